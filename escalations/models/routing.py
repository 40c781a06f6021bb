from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from escalations.choices import SignalKind


class RoutingRule(models.Model):
    """Which counterparts an incident goes to, by signal kind, team, tier and severity.

    Empty criteria match anything. When an incident opens, the matching rules with
    the most criteria set win (ties: every such rule, in ``order``); when nothing
    matches, the single default rule applies. The control's owner is always added.
    """

    name = models.CharField(max_length=120, unique=True)
    order = models.PositiveIntegerField(default=100)
    kind = models.CharField(
        max_length=32, choices=SignalKind.choices, blank=True, help_text="Empty: any kind."
    )
    team = models.ForeignKey(
        "trust.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="routing_rules",
        help_text="Empty: any team.",
    )
    tier = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: any tier.")
    min_severity = models.ForeignKey(
        "escalations.SeverityLevel",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="routing_rules",
        help_text="Matches incidents at this level or above. Empty: any severity.",
    )
    counterparts = models.ManyToManyField(
        "escalations.Counterpart", related_name="routing_rules", blank=True
    )
    is_default = models.BooleanField(
        default=False, help_text="The fallback route when no other rule matches."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords(m2m_fields=[counterparts])

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="") | Q(kind__in=SignalKind.values),
                name="routingrule_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(tier__isnull=True) | Q(tier__gte=1, tier__lte=3),
                name="routingrule_tier_1_3",
            ),
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="routingrule_one_default",
            ),
            models.CheckConstraint(
                condition=Q(is_default=False)
                | Q(kind="", team__isnull=True, tier__isnull=True, min_severity__isnull=True),
                name="routingrule_default_has_no_criteria",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def specificity(self) -> int:
        """How many criteria the rule sets; more criteria means a more specific rule."""
        return sum(
            [bool(self.kind), self.team_id is not None, self.tier is not None,
             self.min_severity_id is not None]
        )  # fmt: skip
