from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from escalations.choices import (
    EscalationReason,
    IncidentConsequence,
    IncidentState,
    SignalKind,
    TimelineKind,
)

# Counters moved by every signal that joins; kept out of history (the signals are
# the record), like the agent's read fields.
INCIDENT_READ_FIELDS = ["signal_count", "last_signal_at"]


class Incident(models.Model):
    """The unit of work: signals for one agent, kind and pact, grouped while it is open.

    The action state runs open → acknowledged → decided → resolved. While open the
    incident climbs the ladder when ``ack_due_at`` passes; while acknowledged, when
    ``decision_due_at`` passes. It climbs on ``ladder`` (a snapshot), the ladder as
    it was when the incident opened, so later edits to the ladder do not change its
    climb; ``routing_snapshot`` keeps the rules and counterparts first routed to.
    ``grouping_key`` (``agent:kind:pact``) is unique among unresolved incidents.
    """

    agent = models.ForeignKey(
        "trust.Agent",
        on_delete=models.PROTECT,
        related_name="incidents",
        db_index=False,  # covered by incident_agent_state_idx
    )
    kind = models.CharField(max_length=32, choices=SignalKind.choices)
    pact = models.ForeignKey(
        "trust.Pact", on_delete=models.PROTECT, null=True, blank=True, related_name="incidents"
    )
    control = models.ForeignKey(
        "escalations.Control", on_delete=models.PROTECT, related_name="incidents"
    )
    severity = models.ForeignKey(
        "escalations.SeverityLevel", on_delete=models.PROTECT, related_name="incidents"
    )
    state = models.CharField(
        max_length=16, choices=IncidentState.choices, default=IncidentState.OPEN
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_incidents",
    )
    counterparts = models.ManyToManyField(
        "escalations.Counterpart",
        related_name="incidents",
        blank=True,
        help_text="Who the incident is routed to now.",
    )
    first_counterparts = models.ManyToManyField(
        "escalations.Counterpart",
        related_name="+",
        blank=True,
        help_text="Who it was first routed to (routing accuracy compares the two).",
    )
    rerouted = models.BooleanField(default=False)
    grouping_key = models.CharField(max_length=120, editable=False)
    opened_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    ack_due_at = models.DateTimeField(
        null=True, blank=True, help_text="Climbs when still unacknowledged at this time."
    )
    decision_due_at = models.DateTimeField(
        null=True, blank=True, help_text="Climbs when acknowledged but undecided at this time."
    )
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    signal_count = models.PositiveIntegerField(default=0)
    last_signal_at = models.DateTimeField(null=True, blank=True)
    ladder = models.ForeignKey(
        "escalations.LadderSnapshot",
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        db_index=False,
        help_text="The ladder as it was when the incident opened; it climbs on this one.",
    )
    routing_snapshot = models.JSONField(default=dict, editable=False)

    # History is read per incident (and by date); indexes on its copies of the other
    # references would only slow down the bulk writes of ingest and promotion.
    history = HistoricalRecords(
        excluded_fields=INCIDENT_READ_FIELDS,
        no_db_index=["pact", "control", "severity", "owner", "ladder"],
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["state", "ack_due_at"], name="incident_ack_due_idx"),
            models.Index(fields=["state", "decision_due_at"], name="incident_decision_due_idx"),
            models.Index(fields=["agent", "state"], name="incident_agent_state_idx"),
            models.Index(fields=["-opened_at", "-id"], name="incident_recent_idx"),
        ]
        constraints = [
            # A plain partial unique index: the same on PostgreSQL and SQLite.
            models.UniqueConstraint(
                fields=["grouping_key"],
                condition=~Q(state=IncidentState.RESOLVED),
                name="incident_one_unresolved_per_key",
            ),
            models.CheckConstraint(
                condition=Q(state__in=IncidentState.values), name="incident_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=SignalKind.values), name="incident_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(state__in=[IncidentState.ACKNOWLEDGED, IncidentState.DECIDED])
                | Q(acknowledged_at__isnull=False),
                name="incident_acknowledged_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state=IncidentState.DECIDED) | Q(decided_at__isnull=False),
                name="incident_decided_has_time",
            ),
            models.CheckConstraint(
                condition=Q(state=IncidentState.RESOLVED, resolved_at__isnull=False)
                | (~Q(state=IncidentState.RESOLVED) & Q(resolved_at__isnull=True)),
                name="incident_resolved_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} on {self.agent_id} ({self.state})"

    @property
    def ladder_snapshot(self) -> list[dict]:
        """The levels of the ladder the incident climbs on (lowest rank first)."""
        return self.ladder.levels

    @property
    def is_resolved(self) -> bool:
        return self.state == IncidentState.RESOLVED


class Escalation(models.Model):
    """One climb of the ladder (or a reminder at the top): from, to, why, who was told."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="escalations")
    from_severity = models.ForeignKey(
        "escalations.SeverityLevel", on_delete=models.PROTECT, related_name="+"
    )
    to_severity = models.ForeignKey(
        "escalations.SeverityLevel", on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=24, choices=EscalationReason.choices)
    notified = models.JSONField(default=list, blank=True, help_text="Counterpart ids notified.")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["incident", "at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reason__in=EscalationReason.values), name="escalation_reason_valid"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"#{self.incident_id}: {self.from_severity_id} → {self.to_severity_id} ({self.reason})"
        )


class Decision(models.Model):
    """What was decided about an agent, why, by whom, and what it did to the agent.

    Most decisions close an incident; an operator may also decide on an agent
    directly from its page (restrict, suspend, restore), and then ``incident`` is
    empty. ``agent`` is always the agent the consequence applied to.
    """

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="decisions", null=True, blank=True
    )
    agent = models.ForeignKey(
        "trust.Agent",
        on_delete=models.PROTECT,
        related_name="decisions",
        db_index=False,  # covered by decision_agent_recent_idx
    )
    consequence = models.CharField(max_length=24, choices=IncidentConsequence.choices)
    rationale = models.TextField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)
    agent_before = models.JSONField(default=dict, help_text="status/autonomy/routing before.")
    agent_after = models.JSONField(default=dict, help_text="status/autonomy/routing after.")

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [
            models.Index(fields=["agent", "-decided_at"], name="decision_agent_recent_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(consequence__in=IncidentConsequence.values),
                name="decision_consequence_valid",
            ),
            models.CheckConstraint(condition=~Q(rationale=""), name="decision_rationale_required"),
        ]

    def __str__(self) -> str:
        if self.incident_id is None:
            return f"agent {self.agent_id}: {self.consequence}"
        return f"#{self.incident_id}: {self.consequence}"


class TimelineEntry(models.Model):
    """One transition of an incident, written by the service in the same transaction."""

    incident = models.ForeignKey(
        Incident,
        on_delete=models.PROTECT,
        related_name="timeline",
        db_index=False,  # covered by timeline_incident_at_idx
    )
    kind = models.CharField(max_length=32, choices=TimelineKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["incident", "at", "id"]
        verbose_name_plural = "timeline entries"
        indexes = [models.Index(fields=["incident", "at", "id"], name="timeline_incident_at_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=TimelineKind.values), name="timelineentry_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.incident_id} {self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"
