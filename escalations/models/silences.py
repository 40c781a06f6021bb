from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from escalations.choices import SilenceRecurrence


class Silence(models.Model):
    """A maintenance window: no new incidents for an agent or a component for a while.

    Exactly one of ``agent`` and ``component`` is set. A one-off silence covers
    ``[starts_at, ends_at)``; a recurring one covers, on each day (or each week, on
    the weekday ``starts_at`` falls on) between the two, the window from
    ``window_start`` to ``window_end`` (UTC; it may cross midnight). Signals observed
    inside it are still stored, marked suppressed.
    """

    agent = models.ForeignKey(
        "trust.Agent", on_delete=models.PROTECT, null=True, blank=True, related_name="silences"
    )
    component = models.ForeignKey(
        "trust.Component",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="silences",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    recurrence = models.CharField(
        max_length=8, choices=SilenceRecurrence.choices, default=SilenceRecurrence.NONE
    )
    window_start = models.TimeField(null=True, blank=True, help_text="Recurring only (UTC).")
    window_end = models.TimeField(null=True, blank=True, help_text="Recurring only (UTC).")
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["ends_at", "starts_at"], name="silence_period_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(agent__isnull=False, component__isnull=True)
                | Q(agent__isnull=True, component__isnull=False),
                name="silence_agent_xor_component",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="silence_ends_after_start"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="silence_reason_required"),
            models.CheckConstraint(
                condition=Q(recurrence__in=SilenceRecurrence.values),
                name="silence_recurrence_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    recurrence=SilenceRecurrence.NONE,
                    window_start__isnull=True,
                    window_end__isnull=True,
                )
                | (
                    ~Q(recurrence=SilenceRecurrence.NONE)
                    & Q(window_start__isnull=False, window_end__isnull=False)
                    & ~Q(window_start=F("window_end"))
                ),
                name="silence_window_for_recurring_only",
            ),
        ]

    def __str__(self) -> str:
        target = f"agent {self.agent_id}" if self.agent_id else f"component {self.component_id}"
        return f"Silence of {target} from {self.starts_at:%Y-%m-%d %H:%M}"

    def covers(self, when: datetime) -> bool:
        """Whether the silence is in force at ``when``."""
        return self.in_force_until(when) is not None

    def in_force_until(self, when: datetime) -> datetime | None:
        """When the stretch of silence in force at ``when`` ends; None when it is not."""
        if not (self.starts_at <= when < self.ends_at):
            return None
        if self.recurrence == SilenceRecurrence.NONE:
            return self.ends_at
        when = when.astimezone(UTC)
        # The window that may contain ``when`` opened today or, when it crosses
        # midnight, yesterday.
        for days_back in (0, 1):
            day = when.date() - timedelta(days=days_back)
            opened = datetime.combine(day, self.window_start, tzinfo=UTC)
            closes_on = day if self.window_end > self.window_start else day + timedelta(days=1)
            closed = datetime.combine(closes_on, self.window_end, tzinfo=UTC)
            if not (opened <= when < closed):
                continue
            if (
                self.recurrence == SilenceRecurrence.DAILY
                or day.weekday() == self.starts_at.astimezone(UTC).weekday()
            ):
                return min(closed, self.ends_at)
            return None
        return None
