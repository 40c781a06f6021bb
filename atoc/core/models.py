"""Kernel models: API keys for integrations and the idempotency-key store.

The kernel names no app. The team restriction of an API key points at the model
named by ``settings.ATOC_API_KEY_TEAM_MODEL`` (the trust ``Team``), wired in
``config/settings`` the way ``AUTH_USER_MODEL`` is.
"""

import hashlib
import hmac

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords


class ApiScope(models.TextChoices):
    """What an API key may do. ``admin`` implies every other scope."""

    READ = "read", "Read"
    SIGNALS_WRITE = "signals:write", "Write signals and disputes"
    EVALUATIONS_WRITE = "evaluations:write", "Submit evaluations"
    ADMIN = "admin", "Administer configuration"


KEY_LABEL = "atoc"


def hash_secret(secret: str) -> str:
    """SHA-256 of a key's secret part (hex).

    The secret is 256 bits of randomness, so a fast hash is enough: there is
    nothing to brute-force, and every request can afford the check.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ApiKey(models.Model):
    """A credential an integration sends as ``Authorization: Bearer atoc_<prefix>_<secret>``.

    Only the prefix (for lookup) and a hash of the secret are stored; the full key
    is shown once when it is created. Each key acts through its own service-account
    user, so ``request.user`` and history rows name the integration. A key with
    teams sees and writes only those teams' agents.
    """

    name = models.CharField(max_length=120, help_text="Who uses the key, e.g. eval-runner.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, help_text="Subset of read, signals:write, …")
    teams = models.ManyToManyField(
        settings.ATOC_API_KEY_TEAM_MODEL,
        blank=True,
        related_name="+",
        help_text="When set, the key only sees and writes these teams' agents.",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="api_key",
        editable=False,
        help_text="The service account requests made with this key act as.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = HistoricalRecords(excluded_fields=["secret_hash", "last_used_at"])

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=models.F("created_at")),
                name="apikey_expires_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({KEY_LABEL}_{self.prefix}_…)"

    def matches(self, secret: str) -> bool:
        """Constant-time comparison of ``secret`` with the stored hash."""
        return hmac.compare_digest(self.secret_hash, hash_secret(secret))

    def is_usable(self, now=None) -> bool:
        """Neither revoked nor expired."""
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now

    def has_scope(self, scope: str) -> bool:
        """Whether the key grants ``scope`` (``admin`` grants all)."""
        return ApiScope.ADMIN in self.scopes or scope in self.scopes

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class IdempotencyState(models.TextChoices):
    IN_FLIGHT = "in_flight", "In flight"
    DONE = "done", "Done"


class IdempotencyRecord(models.Model):
    """The outcome of a POST made with an ``Idempotency-Key`` header, for replays.

    ``client`` is ``key:<api key id>`` or ``user:<user id>``, so two clients can use
    the same key without colliding. The fingerprint covers method, path and the
    parsed body: the same key with a different request is refused. Old rows are
    removed by :func:`atoc.core.services.idempotency_records_purge`.
    """

    client = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(
        max_length=16, choices=IdempotencyState.choices, default=IdempotencyState.IN_FLIGHT
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]
        constraints = [
            models.UniqueConstraint(fields=["client", "key"], name="idempotency_unique_client_key"),
            models.CheckConstraint(
                condition=Q(state__in=IdempotencyState.values), name="idempotency_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(state=IdempotencyState.IN_FLIGHT) | Q(status_code__isnull=False),
                name="idempotency_done_has_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client} {self.key} ({self.state})"
