"""Feedback on what the center did, and the agent actions (each a Decision)."""

import pytest

from atoc.center.exceptions import NotPermitted, OutOfScope
from atoc.center.models import Feedback, FleetReview
from atoc.center.services.agents import agent_act
from atoc.center.services.feedback import feedback_record
from atoc.core.exceptions import InvalidTransition, ValidationFailed
from escalations.models import Decision
from escalations.services.incidents import incident_decide
from tests.center.support import incident
from tests.factories import AgentFactory, CounterpartFactory


def test_feedback_on_an_incident_is_recorded_once_per_author_and_replaced(actor, agent):
    opened = incident(agent, actor)
    first = feedback_record(target=opened, useful=True, credible=False, comment="late", actor=actor)
    assert (first.subject, first.team_id, first.positive) == ("incident", agent.team_id, False)
    again = feedback_record(target=opened, useful=True, credible=True, actor=actor)
    assert again.pk == first.pk and again.positive
    assert Feedback.objects.count() == 1
    assert [h.history_change_reason for h in again.history.order_by("history_date")] == [
        "Feedback given",
        "Feedback changed",
    ]


def test_feedback_on_a_decision_and_on_a_review_and_from_a_counterpart(actor, agent):
    opened = incident(agent, actor)
    incident_decide(incident=opened, consequence="monitor", rationale="watch", actor=actor)
    decision = Decision.objects.get()
    counterpart = CounterpartFactory()
    rated = feedback_record(
        target=decision, useful=False, credible=False, counterpart=counterpart, actor=actor
    )
    assert rated.subject == "decision" and rated.counterpart == counterpart
    assert rated.team_id == agent.team_id
    review = FleetReview.objects.create(tier=1, due_on="2026-01-01", cadence="14 00:00:00")
    assert feedback_record(target=review, useful=True, credible=True, actor=actor).team is None


def test_feedback_refuses_a_viewer_other_teams_and_bad_input(people, actor):
    theirs = incident(AgentFactory(team=people.other_team), actor)
    with pytest.raises(NotPermitted):
        feedback_record(target=theirs, useful=True, credible=True, actor=people.viewer)
    with pytest.raises(OutOfScope):
        feedback_record(target=theirs, useful=True, credible=True, actor=people.team_operator)
    with pytest.raises(ValidationFailed) as info:
        feedback_record(target=theirs, useful="yes", credible=True, actor=actor)
    assert info.value.field == "useful"
    with pytest.raises(ValidationFailed) as info:
        feedback_record(target=people.own_team, useful=True, credible=True, actor=actor)
    assert info.value.field == "subject"
    assert not Feedback.objects.exists()


@pytest.mark.parametrize(
    ("action", "status", "autonomy", "routing"),
    [
        ("restrict", "restricted", "human_in_loop", "live"),
        ("suspend", "suspended", "none", "blocked"),
    ],
)
def test_agent_actions_record_a_decision_and_change_the_agent(
    actor, agent, action, status, autonomy, routing
):
    decision = agent_act(agent=agent, action=action, rationale="Bad refunds", actor=actor)
    agent.refresh_from_db()
    assert (agent.status, agent.autonomy, agent.routing) == (status, autonomy, routing)
    assert decision.incident is None and decision.actor == actor
    restored = agent_act(agent=agent, action="restore", rationale="Fixed", actor=actor)
    agent.refresh_from_db()
    assert agent.status == "active" and restored.agent_before["status"] == status
    with pytest.raises(InvalidTransition):
        agent_act(agent=agent, action="restore", rationale="again", actor=actor)


def test_a_viewer_cannot_act_and_a_team_operator_only_on_their_team(people):
    mine = AgentFactory(team=people.own_team)
    theirs = AgentFactory(team=people.other_team)
    with pytest.raises(NotPermitted) as info:
        agent_act(agent=mine, action="suspend", rationale="x", actor=people.viewer)
    assert info.value.status_code == 403 and "trust.change_agent" in info.value.message
    with pytest.raises(OutOfScope) as info:
        agent_act(agent=theirs, action="suspend", rationale="x", actor=people.team_operator)
    assert "Finance" in info.value.message
    agent_act(agent=mine, action="suspend", rationale="x", actor=people.team_operator)
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert (mine.status, theirs.status) == ("suspended", "active")
    assert Decision.objects.count() == 1


def test_agent_action_refuses_unknown_actions(actor, agent):
    with pytest.raises(ValidationFailed) as info:
        agent_act(agent=agent, action="delete", rationale="x", actor=actor)
    assert info.value.field == "action"
