"""``Authorization: Bearer <key>`` authentication for integrations.

A key is looked up once and then kept in the cache (Redis in production, shared by
every web process) for ``CACHE_SECONDS``, with its team restriction, so a request
costs no database query for its credentials. Any change to a key — revocation,
expiry, scopes, teams — or to its service account drops the cached copy at once and
again on commit (:func:`forget_api_key`, connected in ``atoc.core.apps``), so a
revoked key is refused on its next request. The secret is checked against the
stored hash on every request.
"""

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions

from atoc.core.models import KEY_LABEL, ApiKey
from atoc.core.services import api_key_touch

KEYWORD = "Bearer"
CACHE_SECONDS = 60


def _cache_key(prefix: str) -> str:
    return f"atoc:api-key:{prefix}"


def _generation_key(prefix: str) -> str:
    return f"atoc:api-key-generation:{prefix}"


def forget_api_key(prefix: str) -> None:
    """Make every cached copy of a key stale, now and once the transaction commits.

    The copy is dropped and the key's generation counter bumped: a request that read
    the row before the change and caches it afterwards stores it under the old
    generation, which no later request accepts.
    """

    def forget():
        cache.delete(_cache_key(prefix))
        try:
            cache.incr(_generation_key(prefix))
        except ValueError:  # no counter yet: any value differs from the absent one
            cache.set(_generation_key(prefix), 1, None)

    forget()
    transaction.on_commit(forget)


def _load(prefix: str) -> tuple[ApiKey, frozenset[int], int] | None:
    """The key with its service account, team ids and the cache generation it was read in.

    From the cache when the cached copy is of the current generation, else from the
    database (the generation is read first, so a change in between makes the copy
    stored here stale at once).
    """
    found = cache.get_many([_cache_key(prefix), _generation_key(prefix)])
    generation = found.get(_generation_key(prefix), 0)
    entry = found.get(_cache_key(prefix))
    if entry is not None and len(entry) == 3 and entry[2] == generation:
        return entry
    api_key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
    if api_key is None:
        return None
    entry = (api_key, frozenset(api_key.teams.values_list("pk", flat=True)), generation)
    cache.set(_cache_key(prefix), entry, CACHE_SECONDS)
    return entry


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticate a request by its API key.

    Returns ``(service_account_user, api_key)``: history and services see the key's
    own user as the actor, and ``request.auth`` carries the key's scopes and teams.
    A request without the header is left to the next authenticator (a staff
    session); a malformed, unknown, revoked or expired key is refused with 401.
    """

    def authenticate(self, request):
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        try:
            parts = header.decode("ascii").split()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "The Authorization header is not ASCII."
            ) from None
        if not parts or parts[0].lower() != KEYWORD.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <key>'.")
        user, api_key, team_ids = self.authenticate_key(parts[1])
        # The team restriction travels with the key (see permissions.allowed_team_ids).
        request._atoc_team_ids = team_ids or None
        return user, api_key

    def authenticate_key(self, raw: str):
        """``(user, api key, team ids)`` for a raw key, or ``AuthenticationFailed``."""
        label, _, rest = raw.partition("_")
        prefix, _, secret = rest.partition("_")
        if label != KEY_LABEL or not prefix or not secret or len(prefix) > 16:
            raise exceptions.AuthenticationFailed("Malformed API key.")
        entry = _load(prefix)
        if entry is None or not entry[0].matches(secret):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        api_key, team_ids, generation = entry
        now = timezone.now()
        if api_key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key was revoked.")
        if api_key.expires_at is not None and api_key.expires_at <= now:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        if not api_key.user.is_active:
            raise exceptions.AuthenticationFailed("This API key's account is disabled.")
        touched = api_key_touch(api_key=api_key, now=now)
        if touched is None:  # revoked or disabled since it was read
            forget_api_key(prefix)
            raise exceptions.AuthenticationFailed("This API key was revoked.")
        if touched:
            cache.set(_cache_key(prefix), (api_key, team_ids, generation), CACHE_SECONDS)
        return api_key.user, api_key, team_ids

    def authenticate_header(self, request):
        return f'{KEYWORD} realm="api"'
