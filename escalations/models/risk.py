from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from escalations.choices import RiskAcceptanceState

ACTIVE_RISK_STATES = [RiskAcceptanceState.REQUESTED, RiskAcceptanceState.APPROVED]


class RiskAcceptance(models.Model):
    """An exception to acting: a trust risk accepted for a time, with a rationale.

    Someone other than the requester must approve it (a database constraint as well
    as a service rule). While approved, the incident does not climb; when it expires
    the incident reopens on its ladder unless it was decided in the meantime.
    """

    incident = models.ForeignKey(
        "escalations.Incident", on_delete=models.PROTECT, related_name="risk_acceptances"
    )
    rationale = models.TextField()
    expires_at = models.DateTimeField()
    state = models.CharField(
        max_length=16, choices=RiskAcceptanceState.choices, default=RiskAcceptanceState.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was rejected or expired."
    )
    closing_note = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["state", "expires_at"], name="riskacceptance_due_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("requested_by")),
                name="riskacceptance_four_eyes",
            ),
            models.CheckConstraint(
                condition=~Q(rationale=""), name="riskacceptance_rationale_required"
            ),
            models.CheckConstraint(
                condition=Q(state__in=RiskAcceptanceState.values),
                name="riskacceptance_state_valid",
            ),
            models.CheckConstraint(
                condition=~Q(state=RiskAcceptanceState.APPROVED)
                | Q(approved_by__isnull=False, approved_at__isnull=False),
                name="riskacceptance_approved_has_approver",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("requested_at")),
                name="riskacceptance_expires_after_request",
            ),
            models.UniqueConstraint(
                fields=["incident"],
                condition=Q(state__in=ACTIVE_RISK_STATES),
                name="riskacceptance_one_active_per_incident",
            ),
        ]

    def __str__(self) -> str:
        return f"Risk acceptance #{self.pk} on incident #{self.incident_id} ({self.state})"
