import pytest

from atoc.core.exceptions import InvalidTransition, ValidationFailed
from escalations.models import Decision
from escalations.services.decisions import agent_decide
from escalations.services.incidents import incident_decide
from tests.escalations.support import ingest
from trust.models import Agent


def test_agent_decide_applies_the_consequence_and_records_a_decision_without_incident(agent, actor):
    decision = agent_decide(
        agent=agent, consequence="suspend", rationale="Leaked a customer's data", actor=actor
    )

    agent.refresh_from_db()
    assert (agent.status, agent.autonomy, agent.routing) == ("suspended", "none", "blocked")
    assert decision.incident is None
    assert decision.agent_id == agent.pk
    assert decision.agent_before["status"] == "active"
    assert decision.agent_after["status"] == "suspended"
    history = agent.history.order_by("-history_date").first()
    assert history.history_user == actor
    assert "Leaked a customer's data" in history.history_change_reason


def test_agent_decide_twice_is_refused_and_records_one_decision(agent, actor):
    agent_decide(agent=agent, consequence="suspend", rationale="Bad refunds", actor=actor)
    with pytest.raises(InvalidTransition) as info:
        agent_decide(agent=agent, consequence="suspend", rationale="Bad refunds", actor=actor)
    assert info.value.field == "consequence"
    assert Decision.objects.filter(agent=agent).count() == 1


@pytest.mark.parametrize(
    ("consequence", "rationale", "field"),
    [
        ("monitor", "why", "consequence"),
        ("explode", "why", "consequence"),
        ("suspend", " ", "rationale"),
    ],
)
def test_agent_decide_refuses_bad_input(agent, actor, consequence, rationale, field):
    with pytest.raises(ValidationFailed) as info:
        agent_decide(agent=agent, consequence=consequence, rationale=rationale, actor=actor)
    assert info.value.field == field
    assert not Decision.objects.exists()
    assert Agent.objects.get(pk=agent.pk).status == "active"


def test_incident_decisions_name_their_agent(agent, actor):
    incident = ingest(agent, actor).incident
    incident_decide(incident=incident, consequence="monitor", rationale="Watch it", actor=actor)
    assert Decision.objects.get().agent_id == agent.pk
