"""The five measures of how well the center works, computed in SQL over a window.

Each function returns :class:`MetricValue` rows for the fleet and per team, tier,
severity or subject (``scope``). They read the data as it stands at ``at``, so the
daily snapshot job can compute today and the history can be rebuilt:

1. **Fleet trust review coverage** (``review_coverage``) — agents reviewed within
   their pact version's review cadence, over agents (not retired, holding a pact)
   at ``at``. Per tier and per team.
2. **Time to trust decision** (``time_to_decision``) — for incidents decided in the
   window, seconds from opened to decided: mean (the value), p50 and p90. Per
   severity (the incident's level when read) and per team. PostgreSQL computes the
   percentiles with ``percentile_cont``; other databases in Python with the same
   interpolation.
3. **Escalation routing accuracy** (``routing_accuracy``) — incidents opened in the
   window still with the counterparts they were first routed to (never
   re-routed), over incidents opened in the window. Per team and severity.
4. **Repeat systemic issue rate** (``repeat_issue_rate``) — incidents opened in the
   window that recur on a systemic issue closed before, over incidents opened in
   the window. Per team.
5. **Operator confidence** (``operator_confidence``) — feedback given in the window
   that found the subject useful and credible, over all feedback given in the
   window. Per team and per subject (incident handling, decision, review).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, DateTimeField, Exists, ExpressionWrapper, OuterRef, Q, Value

from atoc.center.choices import Metric
from atoc.center.models import Feedback, FleetReviewAgent, SystemicIssueIncident
from escalations.models import Incident
from trust.choices import AgentStatus
from trust.models import Agent, Team

FLEET = "fleet"

DEFINITIONS: dict[str, dict[str, str]] = {
    Metric.REVIEW_COVERAGE: {
        "label": "Fleet trust review coverage",
        "unit": "share",
        "better": "higher",
        "definition": "Share of agents (not retired, holding a pact) marked reviewed in a fleet "
        "review within their pact version's review cadence. Per tier and team.",
    },
    Metric.TIME_TO_DECISION: {
        "label": "Time to trust decision",
        "unit": "seconds",
        "better": "lower",
        "definition": "For incidents decided in the window: time from opened to decided. The "
        "value is the mean; p50 and p90 are kept with it. Per severity and team.",
    },
    Metric.ROUTING_ACCURACY: {
        "label": "Escalation routing accuracy",
        "unit": "share",
        "better": "higher",
        "definition": "Share of incidents opened in the window that stayed with the counterparts "
        "they were first routed to (never re-routed). Per team and severity.",
    },
    Metric.REPEAT_ISSUE_RATE: {
        "label": "Repeat systemic issue rate",
        "unit": "share",
        "better": "lower",
        "definition": "Share of incidents opened in the window that recur on a systemic issue "
        "that had been closed before. Per team.",
    },
    Metric.OPERATOR_CONFIDENCE: {
        "label": "Operator confidence",
        "unit": "share",
        "better": "higher",
        "definition": "Share of feedback given in the window (by operators and counterparts, on "
        "incident handling, decisions and reviews) that found it useful and credible.",
    },
}


@dataclass
class MetricValue:
    """One metric for one scope: a share (0–1) or seconds; None when nothing was measured."""

    metric: str
    scope: str
    value: float | None
    count: int
    details: dict = field(default_factory=dict)


def _share(metric: str, scope: str, part: int, whole: int, **details) -> MetricValue:
    return MetricValue(
        metric=metric,
        scope=scope,
        value=(part / whole) if whole else None,
        count=whole,
        details={"numerator": part, "denominator": whole, **details},
    )


def _team_slugs() -> dict[int, str]:
    return dict(Team.objects.values_list("pk", "slug"))


# --- 1. review coverage -------------------------------------------------------------


def review_coverage(*, at: datetime) -> list[MetricValue]:
    """Agents reviewed within their pact's cadence, at ``at`` (one grouped query)."""
    reviewed = FleetReviewAgent.objects.filter(
        agent_id=OuterRef("pk"),
        reviewed_at__lte=at,
        reviewed_at__gt=ExpressionWrapper(
            Value(at, output_field=DateTimeField()) - OuterRef("pact_version__review_cadence"),
            output_field=DateTimeField(),
        ),
    )
    rows = (
        Agent.objects.filter(created_at__lte=at, pact_version__isnull=False)
        .exclude(status=AgentStatus.RETIRED)
        .values("tier", "team_id")
        .annotate(total=Count("id"), covered=Count("id", filter=Exists(reviewed)))
        .order_by()
    )
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    slugs = _team_slugs()
    for row in rows:
        for scope in (FLEET, f"tier:{row['tier']}", f"team:{slugs.get(row['team_id'])}"):
            totals[scope][0] += row["covered"]
            totals[scope][1] += row["total"]
    for tier in (1, 2, 3):
        totals.setdefault(f"tier:{tier}", [0, 0])
    totals.setdefault(FLEET, [0, 0])
    return [
        _share(Metric.REVIEW_COVERAGE, scope, covered, total)
        for scope, (covered, total) in sorted(totals.items())
    ]


# --- 2. time to decision ------------------------------------------------------------

TTD_SQL = """
SELECT s.name, a.team_id, GROUPING(s.name), GROUPING(a.team_id), COUNT(*), AVG(d.seconds),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY d.seconds),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY d.seconds)
  FROM escalations_incident i
  JOIN escalations_severitylevel s ON s.id = i.severity_id
  JOIN trust_agent a ON a.id = i.agent_id
  CROSS JOIN LATERAL (SELECT EXTRACT(EPOCH FROM (i.decided_at - i.opened_at)) AS seconds) d
 WHERE i.decided_at > %s AND i.decided_at <= %s
 GROUP BY GROUPING SETS ((s.name), (a.team_id), ())
"""


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """PostgreSQL's ``percentile_cont``: linear interpolation between the nearest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def time_to_decision(*, start: datetime, end: datetime) -> list[MetricValue]:
    """Opened → decided for incidents decided in (start, end]: mean, p50, p90 per scope."""
    slugs = _team_slugs()
    out: dict[str, MetricValue] = {}

    def put(scope: str, count: int, mean, p50, p90) -> None:
        out[scope] = MetricValue(
            metric=Metric.TIME_TO_DECISION,
            scope=scope,
            value=float(mean) if mean is not None else None,
            count=int(count),
            details={
                "mean_seconds": float(mean) if mean is not None else None,
                "p50_seconds": float(p50) if p50 is not None else None,
                "p90_seconds": float(p90) if p90 is not None else None,
            },
        )

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(TTD_SQL, [start, end])
            for severity, team_id, no_severity, no_team, count, mean, p50, p90 in cursor:
                if not no_severity:
                    put(f"severity:{severity}", count, mean, p50, p90)
                elif not no_team:
                    put(f"team:{slugs.get(team_id)}", count, mean, p50, p90)
                else:
                    put(FLEET, count, mean, p50, p90)
    else:
        groups: dict[str, list[float]] = defaultdict(list)
        rows = Incident.objects.filter(decided_at__gt=start, decided_at__lte=end).values_list(
            "severity__name", "agent__team_id", "opened_at", "decided_at"
        )
        for severity, team_id, opened, decided in rows:
            seconds = (decided - opened).total_seconds()
            for scope in (FLEET, f"severity:{severity}", f"team:{slugs.get(team_id)}"):
                groups[scope].append(seconds)
        for scope, values in groups.items():
            put(
                scope,
                len(values),
                sum(values) / len(values),
                percentile_cont(values, 0.5),
                percentile_cont(values, 0.9),
            )
    if FLEET not in out or out[FLEET].count == 0:
        put(FLEET, 0, None, None, None)
    return sorted(out.values(), key=lambda v: v.scope)


# --- 3. routing accuracy and 4. repeat rate ----------------------------------------


def routing_and_repeats(*, start: datetime, end: datetime) -> list[MetricValue]:
    """Routing accuracy and the repeat rate over incidents opened in (start, end]."""
    slugs = _team_slugs()
    opened = (
        Incident.objects.filter(opened_at__gt=start, opened_at__lte=end)
        .values("agent__team_id", "severity__name")
        .annotate(total=Count("id"), kept=Count("id", filter=Q(rerouted=False)))
        .order_by()
    )
    routed: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    incidents_by_team: dict[str, int] = defaultdict(int)
    for row in opened:
        team = f"team:{slugs.get(row['agent__team_id'])}"
        for scope in (FLEET, team, f"severity:{row['severity__name']}"):
            routed[scope][0] += row["kept"]
            routed[scope][1] += row["total"]
        incidents_by_team[team] += row["total"]
        incidents_by_team[FLEET] += row["total"]
    repeats: dict[str, int] = defaultdict(int)
    for team_id, n in (
        SystemicIssueIncident.objects.filter(repeat=True, opened_at__gt=start, opened_at__lte=end)
        .values("team_id")
        .annotate(n=Count("id"))
        .values_list("team_id", "n")
        .order_by()
    ):
        repeats[f"team:{slugs.get(team_id)}"] += n
        repeats[FLEET] += n
    routed.setdefault(FLEET, [0, 0])
    incidents_by_team.setdefault(FLEET, 0)
    values = [
        _share(Metric.ROUTING_ACCURACY, scope, kept, total)
        for scope, (kept, total) in sorted(routed.items())
    ]
    values += [
        _share(Metric.REPEAT_ISSUE_RATE, scope, repeats.get(scope, 0), total)
        for scope, total in sorted(incidents_by_team.items())
    ]
    return values


# --- 5. operator confidence ---------------------------------------------------------


def operator_confidence(*, start: datetime, end: datetime) -> list[MetricValue]:
    """Positive (useful and credible) feedback over all feedback given in (start, end]."""
    slugs = _team_slugs()
    rows = (
        Feedback.objects.filter(created_at__gt=start, created_at__lte=end)
        .values("team_id", "subject")
        .annotate(total=Count("id"), positive=Count("id", filter=Q(useful=True, credible=True)))
        .order_by()
    )
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        scopes = [FLEET, f"subject:{row['subject']}"]
        if row["team_id"] is not None:
            scopes.append(f"team:{slugs.get(row['team_id'])}")
        for scope in scopes:
            totals[scope][0] += row["positive"]
            totals[scope][1] += row["total"]
    totals.setdefault(FLEET, [0, 0])
    return [
        _share(Metric.OPERATOR_CONFIDENCE, scope, positive, total)
        for scope, (positive, total) in sorted(totals.items())
    ]


def compute_all(*, at: datetime, window: timedelta) -> list[MetricValue]:
    """Every metric for every scope, as of ``at`` over ``window`` (about six queries)."""
    start = at - window
    return [
        *review_coverage(at=at),
        *time_to_decision(start=start, end=at),
        *routing_and_repeats(start=start, end=at),
        *operator_confidence(start=start, end=at),
    ]
