from django.db import models
from django.db.models import Q
from django.utils import timezone


class Score(models.Model):
    """One point of an agent's trust score history (0–1000), with what it was made of.

    Computed by :func:`trust.scoring.compute_score`; ``components`` keeps the inputs
    and partial results so any score can be explained after the fact.
    """

    agent = models.ForeignKey("trust.Agent", on_delete=models.PROTECT, related_name="scores")
    value = models.PositiveSmallIntegerField()
    previous_value = models.PositiveSmallIntegerField(null=True, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)
    components = models.JSONField(default=dict)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-computed_at", "-id"]
        indexes = [
            models.Index(fields=["agent", "-computed_at"], name="score_agent_recent_idx"),
            models.Index(fields=["-computed_at", "-id"], name="score_recent_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(value__lte=1000), name="score_value_0_1000"),
            models.CheckConstraint(
                condition=Q(previous_value__isnull=True) | Q(previous_value__lte=1000),
                name="score_previous_0_1000",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id}: {self.value} at {self.computed_at:%Y-%m-%d %H:%M}"

    @property
    def change(self) -> int | None:
        if self.previous_value is None:
            return None
        return self.value - self.previous_value
