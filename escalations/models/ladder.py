from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from escalations.choices import CounterpartFunction, IncidentConsequence


class SeverityLevel(models.Model):
    """One rung of the severity ladder (SEV4 … SEV1); a higher rank is more severe.

    An incident that is not acknowledged within ``ack_deadline`` (or, once
    acknowledged, not decided within ``decision_deadline``) climbs to the next rank.
    At the top level it cannot climb: it is reminded every ``reminder_interval``, at
    most ``max_reminders`` times. An incident copies the ladder when it opens
    (:meth:`as_snapshot`), so editing a level changes only incidents opened later.
    """

    name = models.CharField(max_length=16, unique=True)
    rank = models.PositiveSmallIntegerField(unique=True, help_text="Higher is more severe.")
    description = models.CharField(max_length=200, blank=True)
    ack_deadline = models.DurationField(
        help_text="How long an incident may stay unacknowledged before it climbs."
    )
    decision_deadline = models.DurationField(
        help_text="How long an acknowledged incident may stay undecided before it climbs."
    )
    notify_functions = models.JSONField(
        default=list,
        blank=True,
        help_text='Counterpart functions notified at this level, e.g. ["platform", "security"].',
    )
    leadership_visible = models.BooleanField(
        default=False, help_text="Leadership sees incidents at this level (and is notified)."
    )
    automatic_consequence = models.CharField(
        max_length=24,
        choices=IncidentConsequence.choices,
        blank=True,
        help_text="Applied to the agent when an incident reaches this level.",
    )
    max_reminders = models.PositiveSmallIntegerField(
        default=0, help_text="At the top level: how many reminders before the ladder stops."
    )
    reminder_interval = models.DurationField(
        null=True, blank=True, help_text="At the top level: time between reminders."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(condition=Q(rank__gte=1), name="severitylevel_rank_positive"),
            models.CheckConstraint(
                condition=Q(ack_deadline__gt=timedelta(0)),
                name="severitylevel_ack_deadline_positive",
            ),
            models.CheckConstraint(
                condition=Q(decision_deadline__gt=timedelta(0)),
                name="severitylevel_decision_deadline_positive",
            ),
            models.CheckConstraint(
                condition=Q(automatic_consequence="")
                | Q(automatic_consequence__in=IncidentConsequence.values),
                name="severitylevel_consequence_valid",
            ),
            models.CheckConstraint(
                condition=Q(reminder_interval__isnull=True) | Q(reminder_interval__gt=timedelta(0)),
                name="severitylevel_reminder_interval_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_reminders=0) | Q(reminder_interval__isnull=False),
                name="severitylevel_reminders_need_interval",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        functions = self.notify_functions
        if not isinstance(functions, list) or any(
            f not in CounterpartFunction.values for f in functions
        ):
            raise ValidationError(
                {
                    "notify_functions": "Use a JSON list of functions: "
                    + ", ".join(CounterpartFunction.values)
                    + "."
                }
            )

    def as_snapshot(self) -> dict:
        """The level as plain JSON, as an incident keeps it for its own climb."""
        return {
            "id": self.pk,
            "name": self.name,
            "rank": self.rank,
            "ack_deadline": self.ack_deadline.total_seconds(),
            "decision_deadline": self.decision_deadline.total_seconds(),
            "notify_functions": list(self.notify_functions or []),
            "leadership_visible": self.leadership_visible,
            "automatic_consequence": self.automatic_consequence,
            "max_reminders": self.max_reminders,
            "reminder_interval": (
                self.reminder_interval.total_seconds() if self.reminder_interval else None
            ),
        }


class LadderSnapshot(models.Model):
    """The whole ladder as it stood when incidents opened: immutable, shared by content.

    Incidents opened under the same ladder point at the same row (``digest`` is the
    SHA-256 of the canonical levels), so a million incidents do not each carry a
    copy, and editing a level creates a new snapshot for later incidents only.
    """

    digest = models.CharField(max_length=64, unique=True, editable=False)
    levels = models.JSONField(editable=False, help_text="SeverityLevel.as_snapshot() by rank.")
    taken_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-taken_at", "-id"]

    def __str__(self) -> str:
        names = " < ".join(level["name"] for level in self.levels)
        return f"Ladder {self.digest[:8]} ({names})"
