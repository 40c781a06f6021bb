"""Writes about teams and agents."""

import copy
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.utils import timezone

from atoc.core.bulk import update_rows
from atoc.core.exceptions import InvalidTransition, ValidationFailed
from atoc.core.history import history_insert_bulk, mark_history, save_with_history
from atoc.core.validation import clean_or_raise
from trust.choices import AgentAutonomy, AgentRouting, AgentStatus
from trust.models import Agent, Component, PactVersion, Team

AGENT_EDITABLE_FIELDS = ("name", "team", "tier", "description")


@transaction.atomic
def team_create(*, slug: str, name: str, description: str = "", actor) -> Team:
    """Create a team; a slug or name that exists is refused."""
    if Team.objects.filter(slug=slug).exists():
        raise ValidationFailed(f"A team with slug {slug!r} already exists.", field="slug")
    if Team.objects.filter(name=name).exists():
        raise ValidationFailed(f"A team named {name!r} already exists.", field="name")
    team = Team(slug=slug, name=name, description=description)
    clean_or_raise(team)
    return save_with_history(team, actor=actor, reason="Team created")


def components_get_or_create(names: Iterable[str]) -> list[Component]:
    """The components with these names, creating the missing ones."""
    cleaned = sorted({n.strip() for n in names if n and n.strip()})
    for name in cleaned:
        if len(name) > 120:
            raise ValidationFailed(f"Component name too long: {name[:40]}…", field="components")
    existing = {c.name: c for c in Component.objects.filter(name__in=cleaned)}
    missing = [Component(name=n) for n in cleaned if n not in existing]
    if missing:
        Component.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {c.name: c for c in Component.objects.filter(name__in=cleaned)}
    return [existing[n] for n in cleaned]


@transaction.atomic
def agent_create(
    *,
    slug: str,
    name: str,
    team: Team,
    tier: int,
    actor,
    description: str = "",
    components: Iterable[str] = (),
    status: str = AgentStatus.ACTIVE,
    autonomy: str = AgentAutonomy.SUPERVISED,
    routing: str = AgentRouting.LIVE,
    pact_version: PactVersion | None = None,
    reason: str = "Agent registered",
) -> Agent:
    """Register an agent; its slug must be new and its pact version published."""
    if Agent.objects.filter(slug=slug).exists():
        raise ValidationFailed(f"An agent with slug {slug!r} already exists.", field="slug")
    agent = Agent(
        slug=slug,
        name=name,
        team=team,
        tier=tier,
        description=description,
        status=status,
        autonomy=autonomy,
        routing=routing,
    )
    clean_or_raise(agent, exclude=["pact_version"])
    now = timezone.now()
    if pact_version is not None:
        pact_version = _require_published(pact_version)
        agent.pact_version = pact_version
        agent.pact_assigned_at = now
        # A new agent has one freshness window to produce its first evaluation.
        agent.evaluation_due_at = now + pact_version.freshness_window
    save_with_history(agent, actor=actor, reason=reason)
    comps = components_get_or_create(components)
    if comps:
        mark_history(agent, actor=actor, reason=reason)
        agent.components.set(comps)
    return agent


@transaction.atomic
def agent_update(
    *, agent: Agent, actor, reason: str, components: Iterable[str] | None = None, **changes
) -> Agent:
    """Change an agent's descriptive fields (name, team, tier, description, components).

    Operating state (status, autonomy, routing) changes only through
    :func:`agent_set_operating_state`, which decisions call.
    """
    unknown = set(changes) - set(AGENT_EDITABLE_FIELDS)
    if unknown:
        field = sorted(unknown)[0]
        raise ValidationFailed(f"{field} cannot be changed here.", field=field)
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    changed = [f for f, v in changes.items() if getattr(agent, f) != v]
    for f in changed:
        setattr(agent, f, changes[f])
    if changed:
        clean_or_raise(agent, exclude=["pact_version"])
        save_with_history(agent, actor=actor, reason=reason, update_fields=[*changed, "updated_at"])
    if components is not None:
        comps = components_get_or_create(components)
        if {c.pk for c in comps} != set(agent.components.values_list("pk", flat=True)):
            mark_history(agent, actor=actor, reason=reason)
            agent.components.set(comps)
    return agent


@transaction.atomic
def agent_assign_pact_version(
    *, agent: Agent, pact_version: PactVersion, actor, reason: str
) -> Agent:
    """Give the agent a published pact version (a no-op if it already holds it).

    The freshness clock restarts from the assignment unless the agent has a newer
    evaluation.
    """
    pact_version = _require_published(pact_version)
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    if agent.pact_version_id == pact_version.pk:
        return agent
    now = timezone.now()
    agent.pact_version = pact_version
    agent.pact_assigned_at = now
    start = max(filter(None, [agent.last_evaluated_at, now]))
    agent.evaluation_due_at = start + pact_version.freshness_window
    # evaluation_due_at is a read field: saved here, but left out of history.
    save_with_history(
        agent,
        actor=actor,
        reason=reason,
        update_fields=["pact_version", "pact_assigned_at", "evaluation_due_at", "updated_at"],
    )
    return agent


@transaction.atomic
def agent_set_operating_state(
    *,
    agent: Agent,
    actor,
    reason: str,
    status: str | None = None,
    autonomy: str | None = None,
    routing: str | None = None,
) -> Agent:
    """Change status, autonomy and/or routing; unchanged values write nothing.

    Called by decisions (escalations) and the agent actions of the center; the
    caller owns the wider transaction so a decision and its consequence commit
    together.
    """
    wanted = {"status": status, "autonomy": autonomy, "routing": routing}
    choices = {"status": AgentStatus, "autonomy": AgentAutonomy, "routing": AgentRouting}
    for field, value in wanted.items():
        if value is not None and value not in choices[field].values:
            raise ValidationFailed(f"{value!r} is not a valid {field}.", field=field)
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    if agent.status == AgentStatus.RETIRED and status not in (None, AgentStatus.RETIRED):
        raise InvalidTransition("A retired agent cannot be brought back.", field="status")
    changed = [f for f, v in wanted.items() if v is not None and getattr(agent, f) != v]
    for f in changed:
        setattr(agent, f, wanted[f])
    if changed:
        save_with_history(agent, actor=actor, reason=reason, update_fields=[*changed, "updated_at"])
    return agent


@transaction.atomic
def agents_set_operating_states(*, changes: Sequence[tuple[int, dict, str]], actor) -> None:
    """:func:`agent_set_operating_state` for many agents at once, in a constant number of queries.

    ``changes`` lists ``(agent id, {field: value}, reason)`` in the order they apply;
    an agent may appear more than once. The same rules hold: values are checked,
    a retired agent is not brought back, unchanged values write nothing, and each
    change writes its own history row with ``actor`` and its reason. The agents are
    locked in primary-key order in one query; the caller may hold those locks.
    """
    choices = {
        field: frozenset(choice.values)
        for field, choice in (
            ("status", AgentStatus), ("autonomy", AgentAutonomy), ("routing", AgentRouting)
        )
    }  # fmt: skip
    for _, wanted, _ in changes:
        for field, value in wanted.items():
            if field not in choices:
                raise ValidationFailed(f"{field} cannot be changed here.", field=field)
            if value is not None and value not in choices[field]:
                raise ValidationFailed(f"{value!r} is not a valid {field}.", field=field)
    if not changes:
        return
    agents = {
        agent.pk: agent
        for agent in Agent.objects.select_for_update()
        .filter(pk__in={agent_id for agent_id, _, _ in changes})
        .order_by("pk")
    }
    now = timezone.now()
    versions = []
    for agent_id, wanted, reason in changes:
        agent = agents[agent_id]
        status = wanted.get("status")
        if agent.status == AgentStatus.RETIRED and status not in (None, AgentStatus.RETIRED):
            raise InvalidTransition("A retired agent cannot be brought back.", field="status")
        changed = [f for f, v in wanted.items() if v is not None and getattr(agent, f) != v]
        if not changed:
            continue
        for field in changed:
            setattr(agent, field, wanted[field])
        agent.updated_at = now
        versions.append(mark_history(copy.copy(agent), actor=actor, reason=reason))
    if not versions:
        return
    written = {version.pk: version for version in versions}  # the last state of each
    update_rows(
        Agent,
        fields=["status", "autonomy", "routing", "updated_at"],
        rows=[(a.status, a.autonomy, a.routing, a.updated_at, a.pk) for a in written.values()],
    )
    history_insert_bulk(versions, update=True, default_user=actor)


def agent_set_incident_summary(
    *, agent_id: int, open_count: int, highest_severity: str, highest_rank: int
) -> None:
    """Store the open-incident read fields (maintained by escalations).

    Read fields are excluded from history, so a plain update is right here.
    """
    Agent.objects.filter(pk=agent_id).update(
        open_incident_count=open_count,
        highest_open_severity=highest_severity,
        highest_open_severity_rank=highest_rank,
        updated_at=timezone.now(),
    )


def agents_set_incident_summaries(*, summaries: dict[int, tuple[int, str, int]]) -> None:
    """Store the open-incident read fields of many agents in one pipelined batch.

    ``summaries`` maps an agent id to ``(open_count, highest_severity, highest_rank)``.
    Read fields are excluded from history, so a plain update is right here.
    """
    now = timezone.now()
    update_rows(
        Agent,
        fields=[
            "open_incident_count",
            "highest_open_severity",
            "highest_open_severity_rank",
            "updated_at",
        ],
        rows=[
            (count, severity, rank, now, agent_id)
            for agent_id, (count, severity, rank) in sorted(summaries.items())
        ],
    )


def _require_published(pact_version: PactVersion) -> PactVersion:
    """The version as stored now (the caller's copy may predate its publication)."""
    pact_version = PactVersion.objects.select_related("pact").get(pk=pact_version.pk)
    if not pact_version.is_published:
        raise ValidationFailed(
            f"Pact version {pact_version} is a draft; publish it first.", field="pact_version"
        )
    return pact_version
