"""Center reads: the fleet picture's lists and counts, pages of agents, reviews, metrics.

Every list is LIMITed and walks an index; counts are grouped in SQL. Anything an
agent or an incident row shows — freshness, severity and action state — is loaded
here for the whole page in one query, never per row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Exists, F, Max, OuterRef, Prefetch, Q, QuerySet, Sum

from atoc.center.choices import ACTIVE_ISSUE_STATES, FleetReviewState, Metric
from atoc.center.models import (
    FleetReview,
    FleetReviewAgent,
    MetricSnapshot,
    SystemicIssue,
    SystemicIssueIncident,
)
from atoc.center.schedules import CENTER_JOBS
from escalations.choices import IncidentState
from escalations.models import Decision, Escalation, Incident, SeverityLevel
from escalations.selectors import JobStatus, heartbeats_status
from trust.choices import AgentStatus, DisputeState
from trust.models import Agent, Dispute, Evaluation, Score
from trust.selectors import agent_list, stale_q

UNRESOLVED = (IncidentState.OPEN, IncidentState.ACKNOWLEDGED, IncidentState.DECIDED)
AWAITING = {
    IncidentState.OPEN: "acknowledgement",
    IncidentState.ACKNOWLEDGED: "decision",
    IncidentState.DECIDED: "resolution",
}


# --- action state ---------------------------------------------------------------------


@dataclass
class ActionState:
    """What an incident (or an agent's most pressing incident) awaits, from whom, until when."""

    state: str
    awaiting: str
    due_at: datetime | None
    overdue: bool
    owner: str = ""
    incident_id: int | None = None
    severity: str = ""
    open_count: int = 0

    @property
    def label(self) -> str:
        return AWAITING.get(self.state, "nothing")


def incident_due_at(incident: Incident) -> datetime | None:
    if incident.state == IncidentState.OPEN:
        return incident.ack_due_at
    if incident.state == IncidentState.ACKNOWLEDGED:
        return incident.decision_due_at
    return None


def incident_action_state(incident: Incident, *, now: datetime) -> ActionState:
    due = incident_due_at(incident)
    owner = incident.owner.get_username() if incident.owner_id and incident.owner else ""
    return ActionState(
        state=incident.state,
        awaiting=AWAITING.get(incident.state, "nothing"),
        due_at=due,
        overdue=due is not None and due <= now,
        owner=owner,
        incident_id=incident.pk,
        severity=incident.severity.name if incident.severity_id else "",
    )


def agents_action_states(agent_ids, *, now: datetime) -> dict[int, ActionState]:
    """For each agent: its most pressing unresolved incident (one query for the page).

    Overdue first, then the earliest deadline, then the most severe. Agents with
    nothing unresolved are left out (nothing awaits anyone).
    """
    ids = sorted(set(agent_ids))
    if not ids:
        return {}
    incidents = (
        Incident.objects.filter(agent_id__in=ids, state__in=UNRESOLVED)
        .select_related("severity", "owner")
        .only(
            *("id", "agent_id", "state", "ack_due_at", "decision_due_at", "owner_id"),
            *("severity__name", "severity__rank", "owner__username"),
        )
    )
    best: dict[int, tuple] = {}
    counts: dict[int, int] = defaultdict(int)
    far = datetime.max.replace(tzinfo=now.tzinfo)
    for incident in incidents:
        counts[incident.agent_id] += 1
        action = incident_action_state(incident, now=now)
        key = (not action.overdue, action.due_at or far, -incident.severity.rank, incident.pk)
        if incident.agent_id not in best or key < best[incident.agent_id][0]:
            best[incident.agent_id] = (key, action)
    out = {}
    for agent_id, (_, action) in best.items():
        action.open_count = counts[agent_id]
        out[agent_id] = action
    return out


# --- the fleet picture ------------------------------------------------------------------


def severity_levels() -> list[SeverityLevel]:
    """The ladder, most severe first."""
    return list(SeverityLevel.objects.order_by("-rank"))


def team_agent_counts(*, now: datetime) -> dict[int, tuple[int, int, int]]:
    """``{team id: (agents, stale, restricted or suspended)}`` in one scan of the agents."""
    rows = (
        Agent.objects.values("team_id")
        .annotate(
            n=Count("id"),
            stale=Count("id", filter=stale_q(now)),
            restricted=Count(
                "id", filter=Q(status__in=[AgentStatus.RESTRICTED, AgentStatus.SUSPENDED])
            ),
        )
        .order_by()
    )
    return {row["team_id"]: (row["n"], row["stale"], row["restricted"]) for row in rows}


def fleet_version() -> tuple:
    """Newest ids of the rows every change to the fleet's counts writes (one query).

    Incident transitions write timeline entries, agent changes history rows, new
    evidence evaluations, disputes history rows: when none of these moved, the
    counts of the fleet picture have not either (but for the passing of time).
    """
    from django.db import connection

    from trust.models import Evaluation as EvaluationModel

    sources = [
        (Incident._meta.get_field("timeline").related_model, "id"),
        (Agent.history.model, "history_id"),
        (EvaluationModel, "id"),
        (Dispute.history.model, "history_id"),
        (Agent._meta.get_field("team").related_model.history.model, "history_id"),
    ]
    quote = connection.ops.quote_name
    parts = ", ".join(
        f"(SELECT MAX({quote(column)}) FROM {quote(model._meta.db_table)})"  # noqa: S608
        for model, column in sources
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {parts}")
        return tuple(cursor.fetchone())


def incident_counts(*, now: datetime) -> list[dict]:
    """Unresolved incidents grouped by team, severity and action state, with the overdue.

    One GROUP BY over the unresolved rows (found through the state indexes).
    """
    overdue = Q(state=IncidentState.OPEN, ack_due_at__lte=now) | Q(
        state=IncidentState.ACKNOWLEDGED, decision_due_at__lte=now
    )
    return list(
        Incident.objects.filter(state__in=UNRESOLVED)
        .values("agent__team_id", "severity_id", "state")
        .annotate(n=Count("id"), overdue=Count("id", filter=overdue))
        .order_by()
    )


def incidents_needing_action(*, now: datetime, limit: int = 15) -> list[Incident]:
    """Open and acknowledged incidents, overdue first then by deadline (two indexed queries)."""
    base = Incident.objects.select_related("agent__team", "severity", "owner")
    waiting_ack = list(
        base.filter(state=IncidentState.OPEN).order_by(F("ack_due_at").asc(nulls_last=True), "pk")[
            :limit
        ]
    )
    waiting_decision = list(
        base.filter(state=IncidentState.ACKNOWLEDGED).order_by(
            F("decision_due_at").asc(nulls_last=True), "pk"
        )[:limit]
    )
    far = datetime.max.replace(tzinfo=now.tzinfo)
    rows = sorted(
        waiting_ack + waiting_decision,
        key=lambda i: (incident_due_at(i) or far, -i.severity.rank, i.pk),
    )
    return rows[:limit]


def agents_stale(*, now: datetime, limit: int = 15) -> list[Agent]:
    """Agents with stale evidence, stale the longest first (the due-date index)."""
    return list(agent_list().filter(stale_q(now)).order_by("evaluation_due_at")[:limit])


def agents_restricted(*, limit: int = 15) -> list[Agent]:
    """Agents restricted or suspended, most recently changed first."""
    return list(
        agent_list()
        .filter(status__in=[AgentStatus.RESTRICTED, AgentStatus.SUSPENDED])
        .order_by("-updated_at", "pk")[:limit]
    )


def disputes_at_stake() -> list[dict]:
    """Open disputes' amounts per team and currency (grouped in SQL)."""
    return list(
        Dispute.objects.filter(state=DisputeState.OPEN)
        .values("agent__team_id", "currency")
        .annotate(amount=Sum("amount"), n=Count("id"))
        .order_by("agent__team_id", "currency")
    )


def metric_trends(*, today: date, weeks: int = 8, scope: str = "fleet") -> dict[str, list]:
    """``{metric: [snapshot, …]}`` of the last ``weeks`` weeks, oldest first (one query)."""
    out: dict[str, list] = {metric: [] for metric in Metric.values}
    rows = MetricSnapshot.objects.filter(
        scope=scope, day__gt=today - timedelta(weeks=weeks), day__lte=today
    ).order_by("day")
    for row in rows:
        out.setdefault(row.metric, []).append(row)
    return out


def systemic_issues_active(*, limit: int = 8) -> list[SystemicIssue]:
    """Proposed issues first (they await an operator), then confirmed, newest first."""
    return list(
        SystemicIssue.objects.filter(state__in=ACTIVE_ISSUE_STATES)
        .select_related("component", "pact")
        .order_by("-state", "-proposed_at")[:limit]
    )


def reviews_open() -> list[FleetReview]:
    return list(FleetReview.objects.filter(state=FleetReviewState.OPEN).order_by("tier"))


def center_jobs_status(*, now: datetime) -> list[JobStatus]:
    """The center's periodic jobs: last run against their schedule (two queries).

    The same reading ``escalations.selectors.heartbeats_status`` gives for the
    escalations jobs.
    """
    return heartbeats_status(now=now, jobs=CENTER_JOBS)


# --- systemic issues -------------------------------------------------------------------


def systemic_issue_ids_for_incidents(incident_ids: list[int]) -> dict[int, int]:
    """``{incident id: systemic issue id}`` (the escalations API's provider; one query)."""
    return dict(
        SystemicIssueIncident.objects.filter(incident_id__in=incident_ids).values_list(
            "incident_id", "issue_id"
        )
    )


def issue_incidents(*, issue: SystemicIssue, limit: int = 100) -> list[SystemicIssueIncident]:
    """The newest incidents linked to an issue, with agent, team and severity (one query)."""
    return list(
        SystemicIssueIncident.objects.filter(issue=issue)
        .select_related("incident__severity", "incident__agent__team", "incident__owner")
        .order_by("-opened_at", "-id")[:limit]
    )


# --- the agent page --------------------------------------------------------------------


@dataclass
class AgentStory:
    """Everything the agent page shows, loaded in a fixed number of queries."""

    agent: Agent
    scores: list
    evaluations: list
    open_incidents: list
    past_incidents: list
    decisions: list
    disputes: list
    last_review: FleetReviewAgent | None
    issues: list
    history: list
    action: ActionState | None


def agent_story(*, agent: Agent, now: datetime, past_limit: int = 20) -> AgentStory:
    """The agent's trust story: scores, evidence, incidents with climbs and decisions."""
    scores = list(
        Score.objects.filter(agent=agent, computed_at__gte=now - timedelta(days=90))
        .order_by("-computed_at", "-id")
        .values_list("computed_at", "value")[:200]
    )[::-1]
    evaluations = list(
        Evaluation.objects.filter(agent=agent)
        .select_related("pact_version__pact")
        .order_by("-completed_at", "-id")[:15]
    )
    incident_rows = Incident.objects.select_related("severity", "owner", "pact").prefetch_related(
        Prefetch(
            "escalations",
            queryset=Escalation.objects.select_related("from_severity", "to_severity").order_by(
                "at", "id"
            ),
        ),
        Prefetch("decisions", queryset=Decision.objects.select_related("actor")),
    )
    open_incidents = list(
        incident_rows.filter(agent=agent, state__in=UNRESOLVED).order_by("-severity__rank", "pk")[
            :50
        ]
    )
    past_incidents = list(
        incident_rows.filter(agent=agent, state=IncidentState.RESOLVED).order_by(
            "-opened_at", "-id"
        )[:past_limit]
    )
    decisions = list(
        Decision.objects.filter(agent=agent)
        .select_related("actor")
        .order_by("-decided_at", "-id")[:20]
    )
    disputes = list(Dispute.objects.filter(agent=agent).order_by("-opened_at", "-id")[:20])
    last_review = (
        FleetReviewAgent.objects.filter(agent=agent)
        .select_related("review", "reviewed_by")
        .order_by("-reviewed_at")
        .first()
    )
    issues = list(
        SystemicIssue.objects.filter(
            Exists(SystemicIssueIncident.objects.filter(issue=OuterRef("pk"), agent=agent))
        )
        .select_related("component", "pact")
        .order_by("-proposed_at")[:10]
    )
    history = list(agent.history.select_related("history_user").order_by("-history_date")[:10])
    return AgentStory(
        agent=agent,
        scores=scores,
        evaluations=evaluations,
        open_incidents=open_incidents,
        past_incidents=past_incidents,
        decisions=decisions,
        disputes=disputes,
        last_review=last_review,
        issues=issues,
        history=history,
        action=agents_action_states([agent.pk], now=now).get(agent.pk),
    )


# --- fleet reviews ------------------------------------------------------------------


def review_agents_due(*, review: FleetReview, now: datetime) -> QuerySet[Agent]:
    """Agents of the review's tier not reviewed within their pact's cadence (nor here).

    Most severe open incidents first, then stalest evidence.
    """
    recent = FleetReviewAgent.objects.filter(
        agent_id=OuterRef("pk"), reviewed_at__gt=now - F("agent__pact_version__review_cadence")
    )
    in_review = FleetReviewAgent.objects.filter(agent_id=OuterRef("pk"), review=review)
    return (
        agent_list()
        .filter(tier=review.tier)
        .exclude(status=AgentStatus.RETIRED)
        .filter(~Exists(recent), ~Exists(in_review))
        .order_by(
            "-highest_open_severity_rank",
            F("evaluation_due_at").asc(nulls_last=True),
            "slug",
        )
    )


def agents_evidence(*, agents: list[Agent], now: datetime, days: int = 30) -> dict[int, dict]:
    """Score trend and decisions since last review for a page of agents (three queries)."""
    ids = [a.pk for a in agents]
    if not ids:
        return {}
    trend: dict[int, list] = defaultdict(list)
    for agent_id, value in (
        Score.objects.filter(agent_id__in=ids, computed_at__gte=now - timedelta(days=days))
        .order_by("agent_id", "computed_at", "id")
        .values_list("agent_id", "value")
    ):
        trend[agent_id].append(value)
    last_review = dict(
        FleetReviewAgent.objects.filter(agent_id__in=ids)
        .values("agent_id")
        .annotate(last=Max("reviewed_at"))
        .values_list("agent_id", "last")
        .order_by()
    )
    decisions: dict[int, int] = defaultdict(int)
    for agent_id, decided_at in Decision.objects.filter(agent_id__in=ids).values_list(
        "agent_id", "decided_at"
    ):
        since = last_review.get(agent_id)
        if since is None or decided_at > since:
            decisions[agent_id] += 1
    return {
        pk: {
            "scores": trend.get(pk, []),
            "last_reviewed_at": last_review.get(pk),
            "decisions_since_review": decisions.get(pk, 0),
        }
        for pk in ids
    }


def review_covered(*, review: FleetReview) -> list[FleetReviewAgent]:
    return list(
        FleetReviewAgent.objects.filter(review=review)
        .select_related("agent__team", "reviewed_by")
        .order_by("agent__slug")
    )
