from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from atoc.center.choices import FleetReviewState


class FleetReview(models.Model):
    """A periodic review of one tier of the fleet: who was covered, what was found.

    The scheduling job opens one per tier when the tier's cadence comes round
    (``ATOC_FLEET_REVIEW_CADENCE_DAYS``). The agents due are those of the tier not
    reviewed within their pact version's review cadence; each agent marked
    reviewed gets a :class:`FleetReviewAgent` row, which is what review coverage
    counts. Findings, actions agreed and the systemic issues raised are recorded
    here; completing the review closes it.
    """

    tier = models.PositiveSmallIntegerField()
    due_on = models.DateField()
    cadence = models.DurationField(help_text="The tier's review cadence when it was scheduled.")
    state = models.CharField(
        max_length=16, choices=FleetReviewState.choices, default=FleetReviewState.OPEN
    )
    findings = models.TextField(blank=True)
    actions_agreed = models.TextField(blank=True)
    systemic_issues = models.ManyToManyField(
        "center.SystemicIssue", blank=True, related_name="reviews"
    )
    agents = models.ManyToManyField(
        "trust.Agent", through="center.FleetReviewAgent", related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    history = HistoricalRecords(m2m_fields=[systemic_issues])

    class Meta:
        ordering = ["-due_on", "tier"]
        constraints = [
            models.UniqueConstraint(fields=["tier", "due_on"], name="review_one_per_tier_day"),
            models.UniqueConstraint(
                fields=["tier"],
                condition=Q(state=FleetReviewState.OPEN),
                name="review_one_open_per_tier",
            ),
            models.CheckConstraint(condition=Q(tier__gte=1, tier__lte=3), name="review_tier_1_3"),
            models.CheckConstraint(
                condition=Q(state__in=FleetReviewState.values), name="review_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(state=FleetReviewState.OPEN, completed_at=None)
                | Q(state=FleetReviewState.COMPLETED, completed_at__isnull=False),
                name="review_completed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Tier {self.tier} review due {self.due_on:%Y-%m-%d}"


class FleetReviewAgent(models.Model):
    """One agent marked reviewed in a fleet review: when, by whom, with what note."""

    review = models.ForeignKey(FleetReview, on_delete=models.PROTECT, related_name="covered")
    agent = models.ForeignKey("trust.Agent", on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["review", "agent"]
        indexes = [models.Index(fields=["agent", "-reviewed_at"], name="reviewagent_recent_idx")]
        constraints = [
            models.UniqueConstraint(fields=["review", "agent"], name="reviewagent_once"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} reviewed in {self.review_id}"
