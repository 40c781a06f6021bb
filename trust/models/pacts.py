from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from trust.choices import BreachSeverity, Comparator, MetricUnit, PactVersionState


class Pact(models.Model):
    """A named set of obligations that many agents can hold, so they are comparable."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class PactVersion(models.Model):
    """One version of a pact: its obligations, freshness window and review cadence.

    A draft can be edited; once published it is immutable (services and the admin
    refuse changes) and agents can hold it.
    """

    pact = models.ForeignKey(Pact, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    state = models.CharField(
        max_length=16, choices=PactVersionState.choices, default=PactVersionState.DRAFT
    )
    freshness_window = models.DurationField(
        help_text="How old the newest evaluation may be before the agent's evidence is stale."
    )
    review_cadence = models.DurationField(
        help_text="How often agents on this version are reviewed."
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["pact__slug", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["pact", "number"], name="pactversion_unique_number"),
            models.CheckConstraint(
                condition=Q(freshness_window__gt=timedelta(0)), name="pactversion_window_positive"
            ),
            models.CheckConstraint(
                condition=Q(review_cadence__gt=timedelta(0)), name="pactversion_cadence_positive"
            ),
            models.CheckConstraint(
                condition=Q(state__in=PactVersionState.values), name="pactversion_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(state=PactVersionState.DRAFT) | Q(published_at__isnull=False),
                name="pactversion_published_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pact.slug} v{self.number}"

    @property
    def is_published(self) -> bool:
        return self.state == PactVersionState.PUBLISHED


class Obligation(models.Model):
    """A clause of a pact version: a metric compared against a threshold over a window."""

    pact_version = models.ForeignKey(
        PactVersion, on_delete=models.PROTECT, related_name="obligations"
    )
    metric = models.SlugField(max_length=100, help_text="Metric name, e.g. task_success_rate.")
    description = models.CharField(max_length=300, blank=True)
    unit = models.CharField(max_length=16, choices=MetricUnit.choices, default=MetricUnit.RATIO)
    comparator = models.CharField(max_length=8, choices=Comparator.choices)
    threshold = models.FloatField()
    window = models.DurationField(help_text="Measurement window the metric is computed over.")
    breach_severity = models.CharField(
        max_length=8, choices=BreachSeverity.choices, default=BreachSeverity.SEV3
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["pact_version", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["pact_version", "metric"], name="obligation_unique_metric"
            ),
            models.CheckConstraint(
                condition=Q(window__gt=timedelta(0)), name="obligation_window_positive"
            ),
            models.CheckConstraint(
                condition=Q(comparator__in=Comparator.values), name="obligation_comparator_valid"
            ),
            models.CheckConstraint(
                condition=Q(breach_severity__in=BreachSeverity.values),
                name="obligation_severity_valid",
            ),
            models.CheckConstraint(
                condition=Q(unit__in=MetricUnit.values), name="obligation_unit_valid"
            ),
            models.CheckConstraint(
                condition=~Q(unit=MetricUnit.RATIO) | Q(threshold__gte=0, threshold__lte=1),
                name="obligation_ratio_threshold_0_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.comparator} {self.threshold:g}"
