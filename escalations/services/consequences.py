"""What decisions and ladder levels do to the agent, and the agent's incident read fields."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Max

from escalations.choices import IncidentConsequence, IncidentState
from escalations.models import Incident, SeverityLevel
from trust.choices import AgentAutonomy, AgentRouting, AgentStatus
from trust.models import Agent
from trust.services.agents import (
    agent_set_operating_state,
    agents_set_incident_summaries,
    agents_set_operating_states,
)

# What each consequence does to the agent's operating state.
CONSEQUENCE_EFFECTS: dict[str, dict[str, str]] = {
    IncidentConsequence.MONITOR: {},
    IncidentConsequence.REQUIRE_REVIEW: {"status": AgentStatus.UNDER_REVIEW},
    IncidentConsequence.RESTRICT_AUTONOMY: {
        "status": AgentStatus.RESTRICTED,
        "autonomy": AgentAutonomy.HUMAN_IN_LOOP,
    },
    IncidentConsequence.REROUTE: {"routing": AgentRouting.SHADOW},
    IncidentConsequence.SUSPEND: {
        "status": AgentStatus.SUSPENDED,
        "autonomy": AgentAutonomy.NONE,
        "routing": AgentRouting.BLOCKED,
    },
    IncidentConsequence.RESTORE: {
        "status": AgentStatus.ACTIVE,
        "autonomy": AgentAutonomy.SUPERVISED,
        "routing": AgentRouting.LIVE,
    },
}

# From least to most restrictive: an automatic consequence only ever tightens.
STRICTNESS = {
    "status": [
        AgentStatus.ACTIVE,
        AgentStatus.UNDER_REVIEW,
        AgentStatus.RESTRICTED,
        AgentStatus.SUSPENDED,
    ],
    "autonomy": [
        AgentAutonomy.FULL,
        AgentAutonomy.SUPERVISED,
        AgentAutonomy.HUMAN_IN_LOOP,
        AgentAutonomy.NONE,
    ],
    "routing": [AgentRouting.LIVE, AgentRouting.SHADOW, AgentRouting.BLOCKED],
}
OPERATING_FIELDS = ("status", "autonomy", "routing")


def agent_operating_state(agent: Agent) -> dict:
    return {field: getattr(agent, field) for field in OPERATING_FIELDS}


def consequence_apply(
    *, agent_id: int, consequence: str, actor, reason: str, only_tighten: bool = False
) -> tuple[dict, dict]:
    """Apply ``consequence`` to the agent; return its operating state before and after.

    With ``only_tighten`` (automatic consequences) a field is changed only when the
    new value is stricter, so reaching SEV1 never loosens a suspended agent, and a
    retired agent is left alone.
    """
    agent = Agent.objects.select_for_update(of=("self",)).get(pk=agent_id)
    before = agent_operating_state(agent)
    target = dict(CONSEQUENCE_EFFECTS[consequence])
    if only_tighten:
        if agent.status == AgentStatus.RETIRED:
            target = {}
        target = {
            field: value
            for field, value in target.items()
            if STRICTNESS[field].index(value) > _strictness(field, before[field])
        }
    target = {field: value for field, value in target.items() if before[field] != value}
    if target:
        agent = agent_set_operating_state(agent=agent, actor=actor, reason=reason, **target)
    return before, agent_operating_state(agent)


def consequences_apply_bulk(items: list[tuple[int, str, object, str]]) -> list[tuple[dict, dict]]:
    """Automatic consequences for many agents at once: ``consequence_apply`` with
    ``only_tighten``, in a constant number of queries.

    ``items`` are ``(agent id, consequence, actor, reason)`` in the order to apply
    them; each gets the agent's operating state before and after it. The agents are
    locked in primary-key order in one query, and the changes are written together
    (one history row per change, with its actor and reason).
    """
    if not items:
        return []
    locked = (
        Agent.objects.select_for_update(of=("self",))
        .filter(pk__in={agent_id for agent_id, _, _, _ in items})
        .order_by("pk")
        .values_list("pk", *OPERATING_FIELDS)
    )
    state = {pk: dict(zip(OPERATING_FIELDS, values, strict=True)) for pk, *values in locked}
    results, changes_by_actor = [], {}
    for agent_id, consequence, actor, reason in items:
        before = dict(state[agent_id])
        target = _tighten(before, CONSEQUENCE_EFFECTS[consequence])
        if target:
            state[agent_id].update(target)
            changes_by_actor.setdefault(actor, []).append((agent_id, target, reason))
        results.append((before, dict(state[agent_id])))
    for actor, changes in changes_by_actor.items():
        agents_set_operating_states(changes=changes, actor=actor)
    return results


def _tighten(before: dict, effects: dict) -> dict:
    """The fields of ``effects`` that are stricter than ``before`` (none for a retired agent)."""
    if before["status"] == AgentStatus.RETIRED:
        return {}
    return {
        field: value
        for field, value in effects.items()
        if STRICTNESS[field].index(value) > _strictness(field, before[field])
        and before[field] != value
    }


def _strictness(field: str, value: str) -> int:
    order = STRICTNESS[field]
    return order.index(value) if value in order else len(order)


def agents_refresh_incident_summaries(agent_ids: Iterable[int]) -> None:
    """Recount the agents' open incidents and highest open severity (two queries)."""
    agent_ids = sorted(set(agent_ids))
    if not agent_ids:
        return
    rows = (
        Incident.objects.filter(agent_id__in=agent_ids)
        .exclude(state=IncidentState.RESOLVED)
        .values("agent_id")
        .annotate(count=Count("id"), top=Max("severity__rank"))
        .order_by()
    )
    names = dict(SeverityLevel.objects.values_list("rank", "name"))
    summaries = {agent_id: (0, "", 0) for agent_id in agent_ids}
    for row in rows:
        summaries[row["agent_id"]] = (row["count"], names.get(row["top"], ""), row["top"] or 0)
    agents_set_incident_summaries(summaries=summaries)
