"""Operator transitions: acknowledge, assign, decide, resolve, escalate, reroute."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from atoc.core.exceptions import InvalidTransition, ValidationFailed
from escalations.choices import (
    EscalationReason,
    IncidentConsequence,
    IncidentState,
    SignalKind,
    TimelineKind,
)
from escalations.models import Decision, Escalation, Notification
from escalations.services.incidents import (
    incident_acknowledge,
    incident_assign,
    incident_decide,
    incident_escalate,
    incident_reroute,
    incident_resolve,
)
from tests.escalations.support import ingest, refused, timeline_kinds
from tests.factories import CounterpartFactory, UserFactory
from trust.choices import AgentAutonomy, AgentRouting, AgentStatus
from trust.services.agents import agent_set_operating_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(agent, actor):
    """An open SEV3 pact_breach incident."""
    return ingest(agent, actor, kind=SignalKind.PACT_BREACH).incident


# --- acknowledge ------------------------------------------------------------------------


def test_acknowledging_starts_the_decision_clock_and_takes_ownership(incident, other_actor):
    now = timezone.now()

    with time_machine.travel(now, tick=False):
        result = incident_acknowledge(incident=incident, actor=other_actor, note="On it")

    result.refresh_from_db()
    assert result.state == IncidentState.ACKNOWLEDGED
    assert result.acknowledged_at == now
    assert result.owner == other_actor
    assert result.decision_due_at == now + timedelta(days=1)  # SEV3's decision deadline
    entry = result.timeline.get(kind=TimelineKind.ACKNOWLEDGED)
    assert (entry.actor, entry.data) == (other_actor, {"note": "On it"})
    history = result.history.first()
    assert (history.history_user, history.history_change_reason) == (other_actor, "On it")


def test_acknowledging_twice_writes_one_timeline_row(incident, actor, other_actor):
    incident_acknowledge(incident=incident, actor=actor)
    history_rows = incident.history.count()

    again = incident_acknowledge(incident=incident, actor=other_actor)

    assert again.owner == actor
    assert incident.timeline.filter(kind=TimelineKind.ACKNOWLEDGED).count() == 1
    assert incident.history.count() == history_rows


def test_acknowledging_a_decided_incident_is_a_no_op(incident, actor):
    incident_decide(incident=incident, consequence="monitor", rationale="Fine", actor=actor)
    result = incident_acknowledge(incident=incident, actor=actor)
    assert result.state == IncidentState.DECIDED


def test_acknowledging_a_resolved_incident_is_refused(incident, actor):
    incident_decide(incident=incident, consequence="monitor", rationale="Fine", actor=actor)
    incident_resolve(incident=incident, actor=actor)

    with refused(InvalidTransition, field="state") as info:
        incident_acknowledge(incident=incident, actor=actor)
    assert info.value.status_code == 409
    assert "resolved" in info.value.message


# --- assign -------------------------------------------------------------------------------


def test_assigning_sets_the_owner_once(incident, actor):
    owner = UserFactory()

    incident_assign(incident=incident, owner=owner, actor=actor)
    incident_assign(incident=incident, owner=owner, actor=actor)

    incident.refresh_from_db()
    assert incident.owner == owner
    (entry,) = incident.timeline.filter(kind=TimelineKind.ASSIGNED)
    assert entry.data == {"from": None, "to": owner.pk}
    incident_assign(incident=incident, owner=None, actor=actor)
    incident.refresh_from_db()
    assert incident.owner is None


# --- decide -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("consequence", "expected"),
    [
        ("monitor", (AgentStatus.ACTIVE, AgentAutonomy.SUPERVISED, AgentRouting.LIVE)),
        ("require_review", (AgentStatus.UNDER_REVIEW, AgentAutonomy.SUPERVISED, AgentRouting.LIVE)),
        (
            "restrict_autonomy",
            (AgentStatus.RESTRICTED, AgentAutonomy.HUMAN_IN_LOOP, AgentRouting.LIVE),
        ),
        ("reroute", (AgentStatus.ACTIVE, AgentAutonomy.SUPERVISED, AgentRouting.SHADOW)),
        ("suspend", (AgentStatus.SUSPENDED, AgentAutonomy.NONE, AgentRouting.BLOCKED)),
    ],
)
def test_deciding_applies_the_consequence_to_the_agent(
    incident, agent, actor, consequence, expected
):
    incident_decide(incident=incident, consequence=consequence, rationale="Evidence", actor=actor)

    agent.refresh_from_db()
    assert (agent.status, agent.autonomy, agent.routing) == expected
    decision = Decision.objects.get()
    assert decision.agent_before == {
        "status": "active",
        "autonomy": "supervised",
        "routing": "live",
    }
    assert decision.agent_after == dict(
        zip(["status", "autonomy", "routing"], expected, strict=True)
    )


def test_restore_brings_a_suspended_agent_back(agent, actor):
    agent_set_operating_state(
        agent=agent, actor=actor, reason="Earlier", status="suspended", autonomy="none",
        routing="blocked",
    )  # fmt: skip
    incident = ingest(agent, actor).incident

    incident_decide(incident=incident, consequence="restore", rationale="Fixed", actor=actor)

    agent.refresh_from_db()
    assert (agent.status, agent.autonomy, agent.routing) == ("active", "supervised", "live")


def test_a_decision_is_in_history_with_who_when_and_why(incident, agent, other_actor):
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        incident_decide(
            incident=incident,
            consequence="suspend",
            rationale="Repeated refunds to the wrong account",
            actor=other_actor,
        )

    agent_history = agent.history.first()
    assert agent_history.history_user == other_actor
    assert agent_history.history_date == now
    assert agent_history.status == AgentStatus.SUSPENDED
    assert f"#{incident.pk}: suspend" in agent_history.history_change_reason
    incident.refresh_from_db()
    assert incident.decided_at == now
    decided = incident.timeline.get(kind=TimelineKind.DECIDED)
    assert decided.actor == other_actor
    assert decided.data["rationale"] == "Repeated refunds to the wrong account"
    applied = incident.timeline.get(kind=TimelineKind.CONSEQUENCE_APPLIED)
    assert applied.data["after"]["status"] == "suspended" and not applied.data["automatic"]
    assert incident.history.first().history_user == other_actor


def test_deciding_an_open_incident_acknowledges_it_too(incident, actor):
    incident_decide(incident=incident, consequence="monitor", rationale="Noise", actor=actor)

    incident.refresh_from_db()
    assert incident.state == IncidentState.DECIDED
    assert incident.acknowledged_at == incident.decided_at
    assert timeline_kinds(incident)[-3:] == [
        TimelineKind.ACKNOWLEDGED,
        TimelineKind.DECIDED,
        TimelineKind.NOTIFICATION_QUEUED,
    ]
    assert Notification.objects.filter(incident=incident, event="decided").exists()


def test_deciding_twice_the_same_way_writes_one_decision(incident, agent, actor):
    incident_decide(incident=incident, consequence="reroute", rationale="Shadow it", actor=actor)
    incident_decide(incident=incident, consequence="reroute", rationale="Shadow it", actor=actor)

    assert Decision.objects.count() == 1
    assert incident.timeline.filter(kind=TimelineKind.DECIDED).count() == 1
    assert agent.history.filter(routing="shadow").count() == 1


def test_deciding_a_decided_incident_otherwise_is_refused(incident, actor):
    incident_decide(incident=incident, consequence="monitor", rationale="Watch", actor=actor)
    with refused(InvalidTransition, field="consequence"):
        incident_decide(incident=incident, consequence="suspend", rationale="No", actor=actor)


@pytest.mark.parametrize(
    ("consequence", "rationale", "field"),
    [
        ("obliterate", "Because", "consequence"),
        ("", "Because", "consequence"),
        ("suspend", "", "rationale"),
        ("suspend", "   ", "rationale"),
    ],
)
def test_a_decision_needs_a_known_consequence_and_a_rationale(
    incident, actor, consequence, rationale, field
):
    with refused(ValidationFailed, field=field) as info:
        incident_decide(
            incident=incident, consequence=consequence, rationale=rationale, actor=actor
        )
    assert info.value.status_code == 400


def test_deciding_a_resolved_incident_is_refused(incident, actor):
    incident_decide(incident=incident, consequence="monitor", rationale="ok", actor=actor)
    incident_resolve(incident=incident, actor=actor)
    with refused(InvalidTransition, field="state"):
        incident_decide(incident=incident, consequence="monitor", rationale="ok", actor=actor)


def test_a_retired_agent_cannot_be_put_under_review(agent, actor):
    incident = ingest(agent, actor).incident
    agent_set_operating_state(agent=agent, actor=actor, reason="Retired", status="retired")
    with refused(InvalidTransition, field="status"):
        incident_decide(incident=incident, consequence="require_review", rationale="x", actor=actor)


# --- resolve ------------------------------------------------------------------------------


def test_resolving_before_deciding_is_refused(incident, actor):
    with refused(InvalidTransition, field="state") as info:
        incident_resolve(incident=incident, actor=actor)
    assert "decide it" in info.value.message
    incident_acknowledge(incident=incident, actor=actor)
    with refused(InvalidTransition, field="state"):
        incident_resolve(incident=incident, actor=actor)


def test_resolving_closes_the_incident_and_updates_the_agent(incident, agent, actor):
    incident_decide(incident=incident, consequence="monitor", rationale="ok", actor=actor)
    agent.refresh_from_db()
    assert agent.open_incident_count == 1

    incident_resolve(incident=incident, actor=actor, note="Fixed upstream")
    incident_resolve(incident=incident, actor=actor)

    incident.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED and incident.resolved_at
    assert incident.timeline.filter(kind=TimelineKind.RESOLVED).count() == 1
    agent.refresh_from_db()
    assert (agent.open_incident_count, agent.highest_open_severity) == (0, "")


# --- escalate -----------------------------------------------------------------------------


def test_escalating_by_hand_climbs_one_level(incident, actor, defaults):
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        incident_escalate(incident=incident, actor=actor, reason="Customer complaint")

    incident.refresh_from_db()
    assert incident.severity == defaults.levels["SEV2"]
    assert incident.ack_due_at == now + timedelta(minutes=15)
    escalation = Escalation.objects.get()
    assert escalation.reason == EscalationReason.MANUAL and escalation.actor == actor
    assert escalation.notified  # the routed counterparts and SEV2's functions
    entry = incident.timeline.get(kind=TimelineKind.ESCALATED_MANUALLY)
    assert entry.data == {
        "from": "SEV3",
        "to": "SEV2",
        "reason": "manual",
        "note": "Customer complaint",
    }


def test_escalating_to_the_top_applies_its_automatic_consequence(incident, agent, actor):
    incident_escalate(incident=incident, actor=actor, reason="Bad")
    incident_escalate(incident=incident, actor=actor, reason="Worse")

    agent.refresh_from_db()
    assert (agent.status, agent.autonomy) == ("restricted", "human_in_loop")
    with refused(InvalidTransition, field="severity"):
        incident_escalate(incident=incident, actor=actor, reason="Even worse")


def test_escalating_needs_a_reason_and_an_undecided_incident(incident, actor):
    with refused(ValidationFailed, field="reason"):
        incident_escalate(incident=incident, actor=actor, reason=" ")
    incident_decide(incident=incident, consequence="monitor", rationale="ok", actor=actor)
    with refused(InvalidTransition, field="state"):
        incident_escalate(incident=incident, actor=actor, reason="Late")


# --- reroute ------------------------------------------------------------------------------


def test_rerouting_records_the_change_and_tells_the_newcomers(incident, actor, defaults):
    security = defaults.counterparts["security"]
    first = set(incident.first_counterparts.all())

    incident_reroute(
        incident=incident, counterparts=[security], actor=actor, reason="Looks like abuse"
    )

    incident.refresh_from_db()
    assert incident.rerouted
    assert list(incident.counterparts.all()) == [security]
    assert set(incident.first_counterparts.all()) == first
    entry = incident.timeline.get(kind=TimelineKind.REROUTED)
    assert entry.data["to"] == [security.pk] and entry.data["reason"] == "Looks like abuse"
    assert set(
        Notification.objects.filter(event="rerouted").values_list("counterpart", flat=True)
    ) == {security.pk}


def test_rerouting_to_the_same_counterparts_is_a_no_op(incident, actor):
    current = list(incident.counterparts.all())
    incident_reroute(incident=incident, counterparts=current, actor=actor, reason="Same")
    incident.refresh_from_db()
    assert not incident.rerouted
    assert not incident.timeline.filter(kind=TimelineKind.REROUTED).exists()


def test_rerouting_refuses_nobody_and_inactive_counterparts(incident, actor):
    gone = CounterpartFactory(active=False)
    with refused(ValidationFailed, field="counterparts"):
        incident_reroute(incident=incident, counterparts=[], actor=actor, reason="x")
    with refused(ValidationFailed, field="counterparts"):
        incident_reroute(incident=incident, counterparts=[gone], actor=actor, reason="x")
    with refused(ValidationFailed, field="reason"):
        incident_reroute(incident=incident, counterparts=[gone], actor=actor, reason="")


def test_a_decision_does_not_touch_a_consequence_it_does_not_name(incident, agent, actor):
    agent_set_operating_state(agent=agent, actor=actor, reason="Earlier", routing="shadow")

    incident_decide(
        incident=incident, consequence=IncidentConsequence.REQUIRE_REVIEW, rationale="x",
        actor=actor,
    )  # fmt: skip

    agent.refresh_from_db()
    assert (agent.status, agent.routing) == ("under_review", "shadow")
