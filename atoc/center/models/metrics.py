from django.db import models
from django.db.models import Q
from django.utils import timezone

from atoc.center.choices import Metric


class MetricSnapshot(models.Model):
    """One metric for one scope on one day, as computed by the daily snapshot job.

    ``scope`` is ``fleet``, ``team:<slug>``, ``tier:<n>`` or ``severity:<name>``.
    ``value`` is a share from 0 to 1, or seconds for time to decision (null when
    there was nothing to measure); ``count`` is how many things it was measured on
    (agents, decisions, incidents, ratings); ``details`` holds the parts (numerator,
    p50, p90…). Trends read these rows instead of recomputing history.
    """

    day = models.DateField()
    metric = models.CharField(max_length=32, choices=Metric.choices)
    scope = models.CharField(max_length=80, default="fleet")
    window_days = models.PositiveSmallIntegerField()
    value = models.FloatField(null=True, blank=True)
    count = models.PositiveIntegerField(default=0)
    details = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "metric", "scope"]
        indexes = [
            models.Index(fields=["scope", "metric", "-day"], name="snapshot_scope_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["day", "metric", "scope"], name="snapshot_unique"),
            models.CheckConstraint(
                condition=Q(metric__in=Metric.values), name="snapshot_metric_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.scope} {self.day:%Y-%m-%d}: {self.value}"
