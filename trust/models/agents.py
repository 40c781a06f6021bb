from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from trust.choices import AgentAutonomy, AgentRouting, AgentStatus, AgentTier

# Read fields kept current by the services that write evidence or incidents. They
# change with every evaluation, so they are left out of history: the evidence rows
# themselves are the record, and history keeps what people decided.
AGENT_READ_FIELDS = [
    "current_score",
    "score_at",
    "last_evaluated_at",
    "evaluation_due_at",
    "open_incident_count",
    "highest_open_severity",
    "highest_open_severity_rank",
    "updated_at",
]


class Team(models.Model):
    """A business unit that owns agents (customer operations, finance, engineering…)."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Component(models.Model):
    """A label for something agents are built on (model, provider, tool, prompt base).

    Agents of different teams sharing a component is how fleet-level failures are
    correlated.
    """

    class Kind(models.TextChoices):
        MODEL = "model", "Model"
        PROVIDER = "provider", "Provider"
        TOOL = "tool", "Tool"
        PROMPT = "prompt", "Prompt base"
        OTHER = "other", "Other"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Agent(models.Model):
    """A production AI agent: who owns it, what it is built on, and its operating state.

    Status, autonomy and routing are changed by decisions; the read fields at the
    bottom are denormalised copies maintained by the services so that lists of
    100k agents need no per-row queries.
    """

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="agents")
    tier = models.PositiveSmallIntegerField(choices=AgentTier.choices, default=AgentTier.TIER_2)
    description = models.TextField(blank=True)
    components = models.ManyToManyField(Component, blank=True, related_name="agents")
    status = models.CharField(
        max_length=16, choices=AgentStatus.choices, default=AgentStatus.ACTIVE
    )
    autonomy = models.CharField(
        max_length=16, choices=AgentAutonomy.choices, default=AgentAutonomy.SUPERVISED
    )
    routing = models.CharField(
        max_length=16, choices=AgentRouting.choices, default=AgentRouting.LIVE
    )
    pact_version = models.ForeignKey(
        "trust.PactVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="agents",
        help_text="The pact version the agent currently holds.",
    )
    pact_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    # --- denormalised read fields (see AGENT_READ_FIELDS) ---
    current_score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    score_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_evaluated_at = models.DateTimeField(null=True, blank=True, editable=False)
    evaluation_due_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the newest evaluation goes stale (last evaluation + freshness window).",
    )
    open_incident_count = models.PositiveIntegerField(default=0, editable=False)
    highest_open_severity = models.CharField(max_length=16, blank=True, editable=False)
    highest_open_severity_rank = models.PositiveSmallIntegerField(
        default=0, editable=False, help_text="0 = nothing open; higher is more severe."
    )
    updated_at = models.DateTimeField(auto_now=True)

    # History is read per agent (and by date): copies of the slug, team and pact
    # version need no indexes of their own, which would only slow bulk writes.
    history = HistoricalRecords(
        excluded_fields=AGENT_READ_FIELDS,
        m2m_fields=[components],
        no_db_index=["slug", "team", "pact_version"],
    )

    class Meta:
        ordering = ["slug"]
        indexes = [
            models.Index(fields=["evaluation_due_at"], name="agent_eval_due_idx"),
            models.Index(fields=["team", "status"], name="agent_team_status_idx"),
            models.Index(fields=["-highest_open_severity_rank", "slug"], name="agent_severity_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(tier__gte=1, tier__lte=3), name="agent_tier_1_3"),
            models.CheckConstraint(
                condition=Q(status__in=AgentStatus.values), name="agent_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(autonomy__in=AgentAutonomy.values), name="agent_autonomy_valid"
            ),
            models.CheckConstraint(
                condition=Q(routing__in=AgentRouting.values), name="agent_routing_valid"
            ),
            models.CheckConstraint(
                condition=Q(current_score__isnull=True) | Q(current_score__lte=1000),
                name="agent_score_0_1000",
            ),
        ]

    def __str__(self) -> str:
        return self.slug

    def is_stale(self, now=None) -> bool:
        """True when the newest evidence is older than the pact's freshness window."""
        if self.evaluation_due_at is None or self.status == AgentStatus.RETIRED:
            return False
        return self.evaluation_due_at < (now or timezone.now())
