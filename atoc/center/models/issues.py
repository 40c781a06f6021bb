from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from atoc.center.choices import (
    ACTIVE_ISSUE_STATES,
    IssueLinkSource,
    SystemicIssueBasis,
    SystemicIssueState,
)

# Counts kept current by the services that link incidents; left out of history
# (the links are the record).
ISSUE_READ_FIELDS = ["incident_count", "team_count", "agent_count", "last_incident_at"]


class SystemicIssue(models.Model):
    """Trust debt: one fleet-level pattern behind incidents of several agents and teams.

    Its ``basis`` is what those incidents share: a component the agents are built on
    or the pact they hold. The proposal job opens it in ``proposed``; an operator
    confirms it (known debt), dismisses it (not a pattern) or merges it into another
    issue; a confirmed issue is closed once fixed. New incidents on a proposed or
    confirmed issue are linked to it by the job; a new incident on a closed issue
    reopens it, and that incident counts as a repeat.
    """

    title = models.CharField(max_length=200)
    basis = models.CharField(max_length=16, choices=SystemicIssueBasis.choices)
    component = models.ForeignKey(
        "trust.Component",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="systemic_issues",
    )
    pact = models.ForeignKey(
        "trust.Pact", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    state = models.CharField(
        max_length=16, choices=SystemicIssueState.choices, default=SystemicIssueState.PROPOSED
    )
    description = models.TextField(blank=True)
    resolution_note = models.TextField(blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_issues"
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was last closed, dismissed or merged."
    )
    reopened_count = models.PositiveIntegerField(
        default=0, help_text="How many times it recurred after being closed."
    )

    # --- read fields (ISSUE_READ_FIELDS) ---
    incident_count = models.PositiveIntegerField(default=0, editable=False)
    team_count = models.PositiveIntegerField(default=0, editable=False)
    agent_count = models.PositiveIntegerField(default=0, editable=False)
    last_incident_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = HistoricalRecords(excluded_fields=ISSUE_READ_FIELDS)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        indexes = [models.Index(fields=["state", "-proposed_at"], name="issue_state_recent_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=SystemicIssueState.values), name="issue_state_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(basis=SystemicIssueBasis.COMPONENT, component__isnull=False, pact=None)
                    | Q(basis=SystemicIssueBasis.PACT, pact__isnull=False, component=None)
                ),
                name="issue_basis_consistent",
            ),
            models.CheckConstraint(
                condition=Q(state=SystemicIssueState.MERGED, merged_into__isnull=False)
                | (~Q(state=SystemicIssueState.MERGED) & Q(merged_into=None)),
                name="issue_merged_has_target",
            ),
            # One live issue per shared component or pact: new incidents join it.
            models.UniqueConstraint(
                fields=["component"],
                condition=Q(state__in=ACTIVE_ISSUE_STATES, component__isnull=False),
                name="issue_one_active_per_component",
            ),
            models.UniqueConstraint(
                fields=["pact"],
                condition=Q(state__in=ACTIVE_ISSUE_STATES, pact__isnull=False),
                name="issue_one_active_per_pact",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def basis_label(self) -> str:
        """The shared component's name or the pact's slug."""
        if self.basis == SystemicIssueBasis.COMPONENT:
            return self.component.name if self.component_id else "?"
        return f"pact {self.pact.slug}" if self.pact_id else "?"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_ISSUE_STATES


class SystemicIssueIncident(models.Model):
    """The link of one incident to the systemic issue it belongs to (at most one).

    Kept on the center's side so escalations never knows about systemic issues.
    ``repeat`` marks an incident that opened after its issue had been closed: the
    issue recurred (the repeat systemic issue rate counts these). ``team`` and
    ``opened_at`` are copies of the incident's, so the metrics count links without
    joining incidents.
    """

    issue = models.ForeignKey(
        SystemicIssue, on_delete=models.PROTECT, related_name="incident_links"
    )
    incident = models.OneToOneField(
        "escalations.Incident", on_delete=models.PROTECT, related_name="systemic_issue_link"
    )
    agent = models.ForeignKey("trust.Agent", on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey("trust.Team", on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(help_text="When the incident opened.")
    repeat = models.BooleanField(default=False)
    source = models.CharField(max_length=16, choices=IssueLinkSource.choices)
    linked_at = models.DateTimeField(default=timezone.now)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["issue", "-opened_at", "-id"]
        indexes = [
            models.Index(fields=["issue", "-opened_at"], name="issuelink_issue_recent_idx"),
            models.Index(fields=["opened_at"], name="issuelink_opened_idx"),
            models.Index(fields=["agent"], name="issuelink_agent_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(source__in=IssueLinkSource.values), name="issuelink_source_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"incident #{self.incident_id} → issue #{self.issue_id}"
