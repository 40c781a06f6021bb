from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from atoc.center.choices import FeedbackSubject


class Feedback(models.Model):
    """Whether an incident's handling, a decision or a fleet review was useful and credible.

    Given by operators, or recorded for a counterpart (``counterpart``). One rating
    per author and subject: rating again replaces the earlier one (history keeps
    it). Positive feedback (useful and credible) over all feedback is the operator
    confidence metric; ``team`` is the subject's team, copied so the metric splits
    by team without joins.
    """

    subject = models.CharField(max_length=16, choices=FeedbackSubject.choices)
    incident = models.ForeignKey(
        "escalations.Incident", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decision = models.ForeignKey(
        "escalations.Decision", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    review = models.ForeignKey(
        "center.FleetReview",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="feedback",
    )
    team = models.ForeignKey(
        "trust.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    useful = models.BooleanField()
    credible = models.BooleanField()
    comment = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    counterpart = models.ForeignKey(
        "escalations.Counterpart",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The counterpart this feedback comes from, when it is theirs.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "feedback"
        indexes = [models.Index(fields=["created_at"], name="feedback_created_idx")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(subject=FeedbackSubject.INCIDENT, incident__isnull=False)
                    & Q(decision=None, review=None)
                )
                | (
                    Q(subject=FeedbackSubject.DECISION, decision__isnull=False)
                    & Q(incident=None, review=None)
                )
                | (
                    Q(subject=FeedbackSubject.REVIEW, review__isnull=False)
                    & Q(incident=None, decision=None)
                ),
                name="feedback_one_subject",
            ),
            models.UniqueConstraint(
                fields=["author", "incident"],
                condition=Q(incident__isnull=False),
                name="feedback_once_per_incident",
            ),
            models.UniqueConstraint(
                fields=["author", "decision"],
                condition=Q(decision__isnull=False),
                name="feedback_once_per_decision",
            ),
            models.UniqueConstraint(
                fields=["author", "review"],
                condition=Q(review__isnull=False),
                name="feedback_once_per_review",
            ),
        ]

    def __str__(self) -> str:
        verdict = "positive" if self.positive else "negative"
        return f"{verdict} feedback on {self.subject} by {self.author_id}"

    @property
    def positive(self) -> bool:
        """Useful and credible: what operator confidence counts."""
        return self.useful and self.credible
