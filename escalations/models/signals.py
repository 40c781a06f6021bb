from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from escalations.choices import SignalKind

IDEMPOTENCY_KEY_MAX = 255


class Signal(models.Model):
    """One observation that may matter for trust (append-only evidence).

    ``(source, idempotency_key)`` is unique: a replay with the same body
    (``fingerprint``, the SHA-256 of the canonical body) returns the first result; a
    different body under the same key is refused. A signal matched to an enabled
    control joins or opens ``incident``; one observed inside a silence is stored with
    ``suppressed`` set and opens nothing. Never updated after it is written.
    """

    agent = models.ForeignKey(
        "trust.Agent",
        on_delete=models.PROTECT,
        related_name="signals",
        db_index=False,  # covered by signal_agent_kind_observed_idx
    )
    kind = models.CharField(max_length=32, choices=SignalKind.choices)
    observed_at = models.DateTimeField()
    value = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=100, help_text="Who sent it, e.g. eval-runner or atoc.")
    idempotency_key = models.CharField(max_length=IDEMPOTENCY_KEY_MAX)
    payload = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of the canonical body, to tell a replay from a change."
    )
    pact = models.ForeignKey(
        "trust.Pact",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        help_text="The pact the observation is about (the agent's pact when not given).",
    )
    received_at = models.DateTimeField(default=timezone.now)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    control = models.ForeignKey(
        "escalations.Control",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="signals",
        db_index=False,
        help_text="The enabled control for the kind when the signal arrived.",
    )
    incident = models.ForeignKey(
        "escalations.Incident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="signals",
    )
    suppressed = models.BooleanField(default=False)
    silence = models.ForeignKey(
        "escalations.Silence",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="signals",
        db_index=False,
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(
                fields=["agent", "kind", "observed_at"], name="signal_agent_kind_observed_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "idempotency_key"], name="signal_unique_source_key"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=SignalKind.values), name="signal_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(idempotency_key=""), name="signal_idempotency_key_required"
            ),
            models.CheckConstraint(condition=~Q(source=""), name="signal_source_required"),
            models.CheckConstraint(
                condition=Q(suppressed=False, silence__isnull=True)
                | Q(suppressed=True, silence__isnull=False),
                name="signal_suppressed_by_silence",
            ),
            models.CheckConstraint(
                condition=Q(suppressed=False) | Q(incident__isnull=True),
                name="signal_suppressed_opens_nothing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.agent_id} ({self.source}:{self.idempotency_key})"
