"""Kernel write services: API keys and the idempotency store."""

import secrets
from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .exceptions import ValidationFailed
from .history import mark_history, save_with_history
from .models import KEY_LABEL, ApiKey, ApiScope, IdempotencyRecord, hash_secret

PREFIX_BYTES = 6  # 12 hex characters: the lookup part of a key
SECRET_BYTES = 32  # 256 bits of randomness: the part that is only hashed


def parse_scopes(scopes: Iterable[str] | str) -> list[str]:
    """Normalise scopes given as a list or a comma-separated string; refuse unknown ones."""
    if isinstance(scopes, str):
        scopes = scopes.split(",")
    cleaned = sorted({s.strip() for s in scopes if s and s.strip()})
    unknown = [s for s in cleaned if s not in ApiScope.values]
    if unknown:
        raise ValidationFailed(
            f"Unknown scope {unknown[0]!r}; use any of {', '.join(ApiScope.values)}.",
            field="scopes",
        )
    if not cleaned:
        raise ValidationFailed("Give the key at least one scope.", field="scopes")
    return cleaned


@transaction.atomic
def api_key_create(
    *,
    name: str,
    scopes: Iterable[str] | str,
    actor=None,
    teams: Iterable = (),
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and its service account; return the key and the full secret string.

    The full key (``atoc_<prefix>_<secret>``) exists only in the return value:
    show it to the person once, it cannot be recovered.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Name the key after the integration that uses it.", field="name")
    if len(name) > 120:
        raise ValidationFailed("120 characters at most.", field="name")
    scope_list = parse_scopes(scopes)
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise ValidationFailed("The expiry is in the past.", field="expires_at")
    prefix = secrets.token_hex(PREFIX_BYTES)
    while ApiKey.objects.filter(prefix=prefix).exists():  # pragma: no cover - 48-bit collision
        prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    user_model = get_user_model()
    user = user_model(username=f"apikey-{prefix}", first_name=name[:150], is_active=True)
    user.set_unusable_password()
    user.save()
    api_key = ApiKey(
        name=name,
        prefix=prefix,
        secret_hash=hash_secret(secret),
        scopes=scope_list,
        user=user,
        created_at=now,
        created_by=actor,
        expires_at=expires_at,
    )
    save_with_history(api_key, actor=actor, reason="API key created")
    teams = list(teams)
    if teams:
        mark_history(api_key, actor=actor, reason="API key created")
        api_key.teams.set(teams)
    return api_key, f"{KEY_LABEL}_{prefix}_{secret}"


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor, reason: str = "API key revoked") -> ApiKey:
    """Revoke a key at once (revoking again is a no-op); its service account is disabled."""
    api_key = ApiKey.objects.select_for_update().select_related("user").get(pk=api_key.pk)
    if api_key.revoked_at is not None:
        return api_key
    api_key.revoked_at = timezone.now()
    save_with_history(api_key, actor=actor, reason=reason, update_fields=["revoked_at"])
    user = api_key.user
    user.is_active = False
    user.save(update_fields=["is_active"])
    return api_key


def api_key_touch(*, api_key: ApiKey, now: datetime, every_seconds: int = 60) -> bool | None:
    """Record the key's last use, at most once per ``every_seconds`` (one cheap UPDATE).

    Returns whether it wrote, or None when the stored key is no longer usable (revoked
    or its account disabled since ``api_key`` was read): the update only touches a
    live key. ``last_used_at`` is excluded from history, so a plain update is right.
    """
    last = api_key.last_used_at
    if last is not None and (now - last).total_seconds() < every_seconds:
        return False
    live = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True, user__is_active=True)
    if not live.update(last_used_at=now):
        return None
    api_key.last_used_at = now
    return True


def idempotency_records_purge(*, older_than: datetime) -> int:
    """Delete idempotency records created before ``older_than``; return how many.

    Called by a periodic job. Replays of a key older than that run the request again.
    """
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=older_than).delete()
    return deleted
