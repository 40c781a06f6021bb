"""The fleet trust picture (the admin's first page), assembled from the selectors.

A fixed number of queries whatever the fleet's size: counts are grouped in SQL,
lists are LIMITed walks of an index, and the metric tiles read the stored daily
snapshots instead of recomputing history. Freshness, severity and action state are
attached to every agent and incident shown.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from atoc.center import selectors
from atoc.center.charts import sparkline
from atoc.center.choices import Metric
from atoc.center.metrics import DEFINITIONS
from escalations.choices import IncidentState
from escalations.schedules import PROMOTION_JOB
from escalations.selectors import heartbeats_status
from trust.choices import AgentStatus
from trust.models import Team

STATES = [IncidentState.OPEN, IncidentState.ACKNOWLEDGED, IncidentState.DECIDED]
TREND_WEEKS = 8


def short_duration(value: timedelta | None) -> str:
    """A duration as an operator reads it: "3 d", "5 h", "12 min"."""
    if value is None:
        return "—"
    seconds = abs(value.total_seconds())
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d".replace(".0 d", " d")
    if seconds >= 3600:
        return f"{round(seconds / 3600)} h"
    return f"{max(round(seconds / 60), 1)} min"


def format_metric(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if DEFINITIONS[metric]["unit"] == "seconds":
        return short_duration(timedelta(seconds=value))
    return f"{value * 100:.0f} %"


def freshness(agent, now: datetime) -> tuple[str, str]:
    """(state, text): fresh, stale or none, and how long until or since it is due."""
    due = agent.evaluation_due_at
    if agent.status == AgentStatus.RETIRED:
        return "none", "retired: no evidence due"
    if due is None:
        return "none", "no evidence yet" if agent.pact_version_id else "no pact"
    if due < now:
        return "stale", f"stale for {short_duration(now - due)}"
    if agent.last_evaluated_at is None:
        return "none", f"no evidence yet (due in {short_duration(due - now)})"
    return "fresh", f"fresh (due in {short_duration(due - now)})"


def action_text(action, now: datetime) -> str:
    """What an incident awaits and until when, e.g. "acknowledgement overdue by 2 h"."""
    if action is None:
        return "nothing awaits"
    if action.state == IncidentState.DECIDED:
        return "awaiting resolution"
    if action.due_at is None:
        return f"awaiting {action.awaiting} (no deadline)"
    if action.overdue:
        return f"{action.awaiting} overdue by {short_duration(now - action.due_at)}"
    return f"{action.awaiting} due in {short_duration(action.due_at - now)}"


@dataclass
class Tile:
    metric: str
    label: str
    definition: str
    value: str
    detail: str
    day: object
    chart: str


@dataclass
class TeamRow:
    team: object
    open_by_severity: list = field(default_factory=list)  # [(level name, count)]
    by_state: dict = field(default_factory=dict)
    overdue: int = 0
    disputes: list = field(default_factory=list)  # [(currency, amount, count)]

    @property
    def unresolved(self) -> int:
        return sum(self.by_state.values())


def _tiles(today) -> list[Tile]:
    trends = selectors.metric_trends(today=today, weeks=TREND_WEEKS)
    tiles = []
    for metric in Metric.values:
        rows = trends.get(metric, [])
        latest = rows[-1] if rows else None
        detail = ""
        if latest is not None and metric == Metric.TIME_TO_DECISION:
            d = latest.details
            if latest.count:
                detail = (
                    f"p50 {format_metric(metric, d.get('p50_seconds'))}, "
                    f"p90 {format_metric(metric, d.get('p90_seconds'))}, "
                    f"{latest.count} decisions"
                )
        elif latest is not None:
            detail = f"{latest.details.get('numerator', 0)} of {latest.count}"
        share = DEFINITIONS[metric]["unit"] == "share"
        tiles.append(
            Tile(
                metric=metric,
                label=DEFINITIONS[metric]["label"],
                definition=DEFINITIONS[metric]["definition"],
                value=format_metric(metric, latest.value if latest else None),
                detail=detail,
                day=latest.day if latest else None,
                chart=sparkline(
                    [row.value for row in rows],
                    low=0 if share else None,
                    high=1 if share else None,
                    label=f"{DEFINITIONS[metric]['label']} over {TREND_WEEKS} weeks",
                ),
            )
        )
    return tiles


def _jobs(now: datetime) -> tuple[list, str]:
    statuses = [*heartbeats_status(now=now), *selectors.center_jobs_status(now=now)]
    late = [s for s in statuses if s.late]
    warning = ""
    if late and all(s.last_started_at is None for s in statuses):
        warning = (
            "The scheduled jobs have never run: nothing promotes overdue incidents, checks "
            "freshness or delivers notifications. Start the Celery worker and the scheduler "
            "(celery beat)."
        )
    elif late:
        promotion = next((s for s in late if s.job == PROMOTION_JOB), None)
        names = ", ".join(s.name.lower() for s in late)
        if promotion is not None:
            since = (
                f"last ran {short_duration(now - promotion.last_started_at)} ago"
                if promotion.last_started_at
                else "never ran"
            )
            warning = (
                f"The scheduler or the workers are down: promotion {since}, so overdue "
                f"incidents are not climbing the ladder. Late: {names}."
            )
        else:
            warning = f"Some jobs have not run on time: {names}."
    unscheduled = [s.name.lower() for s in statuses if not s.scheduled]
    if unscheduled:
        warning = " ".join(
            filter(
                None,
                [
                    warning,
                    f"Not scheduled (no enabled periodic task): {', '.join(unscheduled)}; "
                    "enable them under Periodic tasks.",
                ],
            )
        )
    return statuses, warning


# Per process, so a key never outlives the database it was computed from.
_CACHE_SALT = secrets.token_hex(4)


def fleet_counts(*, now: datetime) -> dict:
    """The grouped counts of the picture: agents, unresolved incidents, disputes per team.

    These scan the fleet (a hundred thousand agents, the unresolved incidents), so
    they are cached under the fleet's version (:func:`selectors.fleet_version`) and
    the current minute: any transition, agent change, new evidence or dispute makes
    a new key, and time-based counts (stale, overdue) are at most a minute old.
    """
    seconds = settings.ATOC_FLEET_PICTURE_CACHE_SECONDS
    key = None
    if seconds > 0:
        from django.db import connection

        version = "-".join(str(part or 0) for part in selectors.fleet_version())
        minute = int(now.timestamp() // 60)
        database = connection.settings_dict["NAME"]
        key = f"center:fleet-counts:{_CACHE_SALT}:{database}:{version}:{minute}"
        cached = cache.get(key)
        if cached is not None:
            return cached
    counts = {
        "at": now,
        "agents": selectors.team_agent_counts(now=now),
        "incidents": selectors.incident_counts(now=now),
        "disputes": selectors.disputes_at_stake(),
    }
    if key is not None:
        cache.set(key, counts, seconds)
    return counts


def fleet_picture(*, now: datetime | None = None) -> dict:
    """Everything the admin's first page shows, in a bounded number of queries."""
    now = now or timezone.now()
    levels = selectors.severity_levels()
    level_names = {level.pk: level.name for level in levels}
    level_ids = {level.name: level.pk for level in levels}
    counts = fleet_counts(now=now)
    teams = list(Team.objects.order_by("name").only("id", "slug", "name"))
    for team in teams:
        team.agent_count, team.stale_count, team.restricted_count = counts["agents"].get(
            team.pk, (0, 0, 0)
        )
    rows = {team.pk: TeamRow(team=team) for team in teams}

    matrix = {level.name: dict.fromkeys(STATES, 0) for level in levels}
    overdue_total = 0
    per_team_severity: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in counts["incidents"]:
        name = level_names.get(row["severity_id"], "?")
        matrix.setdefault(name, dict.fromkeys(STATES, 0))[row["state"]] += row["n"]
        overdue_total += row["overdue"]
        team_row = rows.get(row["agent__team_id"])
        if team_row is not None:
            per_team_severity[team_row.team.pk][name] += row["n"]
            team_row.by_state[row["state"]] = team_row.by_state.get(row["state"], 0) + row["n"]
            team_row.overdue += row["overdue"]
    for team_id, by_level in per_team_severity.items():
        rows[team_id].open_by_severity = [(lvl.name, by_level.get(lvl.name, 0)) for lvl in levels]
    for team_row in rows.values():
        if not team_row.open_by_severity:
            team_row.open_by_severity = [(lvl.name, 0) for lvl in levels]
    for dispute in counts["disputes"]:
        team_row = rows.get(dispute["agent__team_id"])
        if team_row is not None:
            team_row.disputes.append((dispute["currency"], dispute["amount"], dispute["n"]))

    queue = selectors.incidents_needing_action(now=now)
    stale = selectors.agents_stale(now=now)
    restricted = selectors.agents_restricted()
    actions = selectors.agents_action_states([a.pk for a in [*stale, *restricted]], now=now)
    jobs, jobs_warning = _jobs(now)

    return {
        "now": now,
        "counted_at": counts["at"],
        "levels": levels,
        "states": [(state, IncidentState(state).label) for state in STATES],
        "matrix": [
            (
                name,
                level_ids.get(name),
                [counts.get(state, 0) for state in STATES],
                sum(counts.values()),
            )
            for name, counts in matrix.items()
        ],
        "state_totals": [sum(m.get(state, 0) for m in matrix.values()) for state in STATES],
        "unresolved_total": sum(sum(m.values()) for m in matrix.values()),
        "overdue_total": overdue_total,
        "queue": [
            {
                "incident": incident,
                "action": (action := selectors.incident_action_state(incident, now=now)),
                "action_text": action_text(action, now),
                "freshness": freshness(incident.agent, now),
            }
            for incident in queue
        ],
        "teams": list(rows.values()),
        "agent_total": sum(t.agent_count for t in teams),
        "stale_total": sum(t.stale_count for t in teams),
        "restricted_total": sum(t.restricted_count for t in teams),
        "stale_agents": [_agent_row(a, actions, now) for a in stale],
        "restricted_agents": [_agent_row(a, actions, now) for a in restricted],
        "tiles": _tiles(now.date()),
        "jobs": jobs,
        "jobs_warning": jobs_warning,
        "issues": selectors.systemic_issues_active(),
        "reviews": selectors.reviews_open(),
    }


def _agent_row(agent, actions: dict, now: datetime) -> dict:
    action = actions.get(agent.pk)
    return {
        "agent": agent,
        "freshness": freshness(agent, now),
        "severity": agent.highest_open_severity or "none open",
        "action": action,
        "action_text": action_text(action, now),
    }
