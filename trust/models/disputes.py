from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from trust.choices import DisputeOutcome, DisputeState


class Dispute(models.Model):
    """A settlement or escrow dispute about work an agent did, and what is at stake.

    Opening one is a trust signal; a dispute lost by the agent lowers its score.
    """

    agent = models.ForeignKey("trust.Agent", on_delete=models.PROTECT, related_name="disputes")
    reference = models.CharField(max_length=100, unique=True, help_text="Settlement reference.")
    counterparty = models.CharField(max_length=200)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, help_text="ISO 4217 code, e.g. EUR.")
    description = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=DisputeState.choices, default=DisputeState.OPEN)
    outcome = models.CharField(max_length=16, choices=DisputeOutcome.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["agent", "state"], name="dispute_agent_state_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="dispute_amount_positive"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="dispute_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(outcome__in=DisputeOutcome.values),
                name="dispute_outcome_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(state=DisputeState.OPEN, resolved_at__isnull=True, outcome="")
                    | (Q(state=DisputeState.RESOLVED, resolved_at__isnull=False) & ~Q(outcome=""))
                ),
                name="dispute_resolution_consistent",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("opened_at")),
                name="dispute_resolved_after_opened",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.amount} {self.currency})"
