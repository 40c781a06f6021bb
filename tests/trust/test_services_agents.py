"""Teams and agents: registration, description, pact assignment and operating state."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from atoc.core.exceptions import InvalidTransition, ValidationFailed
from tests.factories import AgentFactory, PactVersionFactory, TeamFactory
from tests.trust.support import refused
from trust.choices import AgentAutonomy, AgentRouting, AgentStatus, PactVersionState
from trust.models import Agent, Component, Team
from trust.services.agents import (
    agent_assign_pact_version,
    agent_create,
    agent_set_incident_summary,
    agent_set_operating_state,
    agent_update,
    agents_set_operating_states,
    team_create,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def team(actor):
    return team_create(slug="finance", name="Finance", actor=actor)


@pytest.fixture
def version():
    return PactVersionFactory(freshness_window=timedelta(days=3))


@pytest.fixture
def draft_version():
    return PactVersionFactory(state=PactVersionState.DRAFT, published_at=None)


def register(team, actor, **overrides):
    arguments = {"slug": "invoice-bot", "name": "Invoice bot", "team": team, "tier": 1}
    return agent_create(actor=actor, **{**arguments, **overrides})


# --- team_create -----------------------------------------------------------------------------


def test_team_create_stores_the_team(actor):
    team = team_create(slug="support", name="Customer Operations", actor=actor)
    assert Team.objects.get(slug="support").name == "Customer Operations"
    assert team.pk is not None


@pytest.mark.parametrize(
    ("field", "slug", "name"),
    [
        ("slug", "finance", "Another name"),
        ("name", "another-slug", "Finance"),
        ("slug", "Not a slug", "Fresh name"),
        ("name", "fresh", ""),
    ],
)
def test_team_create_refusals_name_the_field_and_write_nothing(team, actor, field, slug, name):
    with refused(ValidationFailed, field=field):
        team_create(slug=slug, name=name, actor=actor)


# --- agent_create --------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_agent_create_registers_the_agent_with_its_pact_and_components(team, version, actor):
    agent = register(
        team,
        actor,
        components=["gpt-4o", "stripe-tool", " gpt-4o ", ""],
        pact_version=version,
        description="Pays supplier invoices",
    )

    stored = Agent.objects.get(pk=agent.pk)
    assert (stored.slug, stored.team, stored.tier) == ("invoice-bot", team, 1)
    assert (stored.status, stored.autonomy, stored.routing) == (
        AgentStatus.ACTIVE,
        AgentAutonomy.SUPERVISED,
        AgentRouting.LIVE,
    )
    assert stored.pact_version == version
    assert stored.pact_assigned_at == NOW
    assert stored.evaluation_due_at == NOW + timedelta(days=3)  # one window for a first result
    assert sorted(stored.components.values_list("name", flat=True)) == ["gpt-4o", "stripe-tool"]
    assert stored.current_score is None
    assert stored.last_evaluated_at is None


def test_agent_create_reuses_existing_components(team, actor):
    Component.objects.create(name="gpt-4o")
    register(team, actor, components=["gpt-4o"])
    register(team, actor, slug="other-bot", components=["gpt-4o", "claude"])
    assert Component.objects.count() == 2


def test_agent_create_without_a_pact_has_no_freshness_clock(team, actor):
    agent = register(team, actor)
    assert agent.pact_version is None
    assert agent.evaluation_due_at is None


def test_agent_create_with_a_slug_that_exists_is_refused_and_writes_nothing(team, actor):
    register(team, actor, components=["gpt-4o"])
    with refused(ValidationFailed, field="slug"):
        register(team, actor, name="Impostor", components=["new-component"])


def test_agent_create_with_a_draft_pact_version_is_refused(team, draft_version, actor):
    with refused(ValidationFailed, field="pact_version"):
        register(team, actor, pact_version=draft_version)


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("tier", {"tier": 4}),
        ("tier", {"tier": 0}),
        ("status", {"status": "paused"}),
        ("autonomy", {"autonomy": "total"}),
        ("routing", {"routing": "nowhere"}),
        ("slug", {"slug": "has spaces"}),
        ("name", {"name": ""}),
        ("components", {"components": ["x" * 121]}),
    ],
)
def test_agent_create_refuses_bad_input_naming_the_field(team, actor, field, overrides):
    with refused(ValidationFailed, field=field):
        register(team, actor, **overrides)


def test_agent_create_accepts_a_stale_copy_of_a_version_published_since(team, actor):
    version = PactVersionFactory(state=PactVersionState.DRAFT, published_at=None)
    type(version).objects.filter(pk=version.pk).update(
        state=PactVersionState.PUBLISHED, published_at=timezone.now()
    )
    agent = register(team, actor, pact_version=version)
    assert agent.pact_version_id == version.pk


# --- agent_update ----------------------------------------------------------------------------


def test_agent_update_changes_descriptive_fields_and_components(actor):
    agent = AgentFactory(tier=2)
    new_team = TeamFactory()
    updated = agent_update(
        agent=agent,
        actor=actor,
        reason="Reorganisation",
        name="Renamed",
        tier=1,
        team=new_team,
        components=["claude"],
    )
    stored = Agent.objects.get(pk=agent.pk)
    assert (stored.name, stored.tier, stored.team) == ("Renamed", 1, new_team)
    assert list(stored.components.values_list("name", flat=True)) == ["claude"]
    assert updated.updated_at > agent.updated_at
    assert stored.updated_at == updated.updated_at


def test_agent_update_leaves_read_fields_alone(actor):
    agent = AgentFactory(tier=2)
    Agent.objects.filter(pk=agent.pk).update(current_score=640, open_incident_count=2)
    agent_update(agent=agent, actor=actor, reason="Rename", name="Renamed")  # stale copy
    stored = Agent.objects.get(pk=agent.pk)
    assert (stored.current_score, stored.open_incident_count) == (640, 2)


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("status", {"status": AgentStatus.SUSPENDED}),
        ("slug", {"slug": "new-slug"}),
        ("current_score", {"current_score": 1000}),
        ("pact_version", {"pact_version": None}),
        ("tier", {"tier": 9}),
        ("name", {"name": ""}),
    ],
)
def test_agent_update_refuses_bad_changes_naming_the_field(agent, actor, field, changes):
    with refused(ValidationFailed, field=field):
        agent_update(agent=agent, actor=actor, reason="Try", **changes)


def test_agent_update_without_a_change_writes_nothing(agent, actor):
    before = agent.history.count()
    agent_update(agent=agent, actor=actor, reason="Nothing", name=agent.name, components=[])
    assert agent.history.count() == before


# --- agent_assign_pact_version ------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_assigning_a_pact_version_restarts_the_freshness_clock(agent, version, actor):
    updated = agent_assign_pact_version(
        agent=agent, pact_version=version, actor=actor, reason="Stricter pact"
    )
    stored = Agent.objects.get(pk=agent.pk)
    assert stored.pact_version == version
    assert stored.pact_assigned_at == NOW
    assert stored.evaluation_due_at == NOW + timedelta(days=3)
    assert updated.evaluation_due_at == stored.evaluation_due_at


def test_assigning_a_draft_pact_version_is_refused_and_writes_nothing(agent, draft_version, actor):
    with refused(ValidationFailed, field="pact_version"):
        agent_assign_pact_version(
            agent=agent, pact_version=draft_version, actor=actor, reason="Try"
        )


def test_assigning_the_version_the_agent_holds_is_a_no_op(agent, actor):
    before = (Agent.objects.values().get(pk=agent.pk), agent.history.count())
    agent_assign_pact_version(
        agent=agent, pact_version=agent.pact_version, actor=actor, reason="Again"
    )
    assert (Agent.objects.values().get(pk=agent.pk), agent.history.count()) == before


# --- agent_set_operating_state ----------------------------------------------------------------


def test_set_operating_state_changes_status_autonomy_and_routing(agent, actor):
    updated = agent_set_operating_state(
        agent=agent,
        actor=actor,
        reason="SEV1 consequence",
        status=AgentStatus.RESTRICTED,
        autonomy=AgentAutonomy.HUMAN_IN_LOOP,
        routing=AgentRouting.SHADOW,
    )
    stored = Agent.objects.get(pk=agent.pk)
    assert (stored.status, stored.autonomy, stored.routing) == (
        AgentStatus.RESTRICTED,
        AgentAutonomy.HUMAN_IN_LOOP,
        AgentRouting.SHADOW,
    )
    assert updated.updated_at > agent.updated_at


def test_set_operating_state_changes_only_what_is_given(agent, actor):
    agent_set_operating_state(agent=agent, actor=actor, reason="Shadow", routing="shadow")
    stored = Agent.objects.get(pk=agent.pk)
    assert (stored.status, stored.autonomy, stored.routing) == ("active", "supervised", "shadow")


def test_set_operating_state_to_the_current_state_writes_nothing(agent, actor):
    before = agent.history.count()
    agent_set_operating_state(agent=agent, actor=actor, reason="Again", status="active")
    assert agent.history.count() == before


@pytest.mark.parametrize("field", ["status", "autonomy", "routing"])
def test_set_operating_state_with_an_unknown_value_is_refused(agent, actor, field):
    with refused(ValidationFailed, field=field):
        agent_set_operating_state(agent=agent, actor=actor, reason="Try", **{field: "bogus"})


def test_a_retired_agent_cannot_be_brought_back(agent, actor):
    agent_set_operating_state(agent=agent, actor=actor, reason="Retire", status="retired")
    with refused(InvalidTransition, field="status"):
        agent_set_operating_state(agent=agent, actor=actor, reason="Revive", status="active")
    # its autonomy and routing may still be tightened
    agent_set_operating_state(agent=agent, actor=actor, reason="Block", routing="blocked")
    assert Agent.objects.get(pk=agent.pk).routing == "blocked"


# --- agents_set_operating_states ---------------------------------------------------------------


def _history(agent) -> list[tuple]:
    return [
        (
            *(row.history_type, row.history_user_id, row.history_change_reason),
            *(row.status, row.autonomy, row.routing),
            sorted(link.component_id for link in row.components.all()),
        )
        for row in agent.history.order_by("history_id")
    ]


def _agent_with_components(slug: str, actor) -> Agent:
    return agent_create(
        slug=slug, name=slug, team=TeamFactory(), tier=1, actor=actor, components=["gpt", "rag"]
    )


def test_bulk_operating_states_write_what_one_call_per_change_writes(actor):
    singly, bulk = _agent_with_components("singly", actor), _agent_with_components("bulk", actor)
    agent_set_operating_state(agent=singly, actor=actor, reason="SEV1", status="restricted")
    agent_set_operating_state(agent=singly, actor=actor, reason="Again", status="restricted")
    agent_set_operating_state(agent=singly, actor=actor, reason="Block", routing="blocked")

    agents_set_operating_states(
        changes=[
            (bulk.pk, {"status": "restricted"}, "SEV1"),
            (bulk.pk, {"status": "restricted"}, "Again"),
            (bulk.pk, {"routing": "blocked"}, "Block"),
        ],
        actor=actor,
    )

    assert _history(bulk) == _history(singly)
    # created, components linked, then one row per real change, each with the links
    assert [row[2] for row in _history(bulk)][2:] == ["SEV1", "Block"]
    assert _history(bulk)[-1][-1] == sorted(c.pk for c in bulk.components.all())
    stored = Agent.objects.get(pk=bulk.pk)
    assert (stored.status, stored.routing) == ("restricted", "blocked")
    assert stored.updated_at > bulk.updated_at


def test_bulk_operating_states_cost_the_same_queries_for_2_or_20_agents(actor):
    def run(count: int) -> int:
        agents = AgentFactory.create_batch(count)
        with CaptureQueriesContext(connection) as ctx:
            agents_set_operating_states(
                changes=[(a.pk, {"status": "restricted"}, "SEV1") for a in agents], actor=actor
            )
        assert {a.status for a in Agent.objects.filter(pk__in=[a.pk for a in agents])} == {
            "restricted"
        }
        return len(ctx.captured_queries)

    assert run(2) == run(20)


def test_bulk_operating_states_refuse_what_the_single_service_refuses(agent, actor):
    agent_set_operating_state(agent=agent, actor=actor, reason="Retire", status="retired")
    with refused(InvalidTransition, field="status"):
        agents_set_operating_states(
            changes=[(agent.pk, {"status": "active"}, "Revive")], actor=actor
        )
    with refused(ValidationFailed, field="routing"):
        agents_set_operating_states(changes=[(agent.pk, {"routing": "bogus"}, "Try")], actor=actor)


# --- agent_set_incident_summary -----------------------------------------------------------------


def test_incident_summary_stores_the_read_fields_without_history(agent):
    before = agent.history.count()
    agent_set_incident_summary(
        agent_id=agent.pk, open_count=3, highest_severity="SEV2", highest_rank=3
    )
    stored = Agent.objects.get(pk=agent.pk)
    assert (stored.open_incident_count, stored.highest_open_severity) == (3, "SEV2")
    assert stored.highest_open_severity_rank == 3
    assert agent.history.count() == before
