import math
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from escalations.choices import IncidentConsequence, SignalKind


class Control(models.Model):
    """The rule that turns a kind of signal into action.

    A signal of ``signal_kind`` that meets ``condition`` opens (or joins) an incident
    at ``opening_severity``, routed to ``owner`` among others; ``consequence`` is the
    default decision. ``condition`` is JSON: ``{"threshold": N}`` is the smallest
    ``value`` that triggers (for ``score_drop``: the drop in points), an empty object
    means every signal triggers. A control without an owner or a consequence cannot be
    saved (database constraints): a threshold with no downstream action is not a
    control. At most one enabled control per kind, so matching is unambiguous.
    """

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    signal_kind = models.CharField(max_length=32, choices=SignalKind.choices)
    condition = models.JSONField(
        default=dict,
        blank=True,
        help_text='JSON, e.g. {"threshold": 100}: the smallest signal value that triggers.',
    )
    opening_severity = models.ForeignKey(
        "escalations.SeverityLevel", on_delete=models.PROTECT, related_name="controls"
    )
    owner = models.ForeignKey(
        "escalations.Counterpart", on_delete=models.PROTECT, related_name="owned_controls"
    )
    consequence = models.CharField(
        max_length=24,
        choices=IncidentConsequence.choices,
        help_text="The default decision for incidents this control opens.",
    )
    review_cadence = models.DurationField(default=timedelta(days=90))
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["signal_kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(signal_kind__in=SignalKind.values), name="control_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(consequence__in=IncidentConsequence.values),
                name="control_consequence_required",
            ),
            models.CheckConstraint(
                condition=Q(review_cadence__gt=timedelta(0)),
                name="control_review_cadence_positive",
            ),
            models.UniqueConstraint(
                fields=["signal_kind"],
                condition=Q(enabled=True),
                name="control_one_enabled_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def threshold(self) -> float | None:
        """The triggering threshold from ``condition``, or None when every signal triggers."""
        value = (self.condition or {}).get("threshold")
        return None if value is None else float(value)

    def triggers(self, value: float | None) -> bool:
        """Whether a signal with this ``value`` meets the condition."""
        threshold = self.threshold
        if threshold is None:
            return True
        return value is not None and value >= threshold

    def clean(self) -> None:
        condition = self.condition
        if not isinstance(condition, dict):
            raise ValidationError({"condition": 'Use a JSON object, e.g. {"threshold": 100}.'})
        unknown = set(condition) - {"threshold"}
        if unknown:
            raise ValidationError({"condition": f"Unknown key(s): {', '.join(sorted(unknown))}."})
        threshold = condition.get("threshold")
        if threshold is not None and (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not math.isfinite(threshold)
            or threshold < 0
        ):
            raise ValidationError({"condition": "threshold must be a number ≥ 0."})
