"""The trust hand-off: evidence_recorded is sent inside the service's transaction."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from atoc.core.exceptions import ValidationFailed
from tests.factories import AgentFactory
from trust import handoff
from trust.choices import DisputeOutcome
from trust.models import Dispute, Evaluation, Score
from trust.services.disputes import dispute_open, dispute_resolve
from trust.services.evaluations import evaluation_submit
from trust.services.scores import score_recompute


class Received:
    """What a temporary receiver saw: each event, and the state of the database then."""

    def __init__(self):
        self.events: list[handoff.EvidenceEvent] = []
        self.in_atomic_block: list[bool] = []

    def __call__(self, sender, event, **kwargs):
        self.events.append(event)
        self.in_atomic_block.append(connection.in_atomic_block)

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@pytest.fixture
def received():
    """A temporary receiver, alone on the signal for the test.

    What escalations does with the events is tested with escalations; here the
    registered receivers are set aside so only what trust sends is observed.
    """
    signal = handoff.evidence_recorded
    with signal.lock:
        registered, signal.receivers = signal.receivers, []
        signal.sender_receivers_cache.clear()
    receiver = Received()
    signal.connect(receiver, dispatch_uid="test-trust-handoff")
    try:
        yield receiver
    finally:
        signal.disconnect(dispatch_uid="test-trust-handoff")
        with signal.lock:
            signal.receivers = registered
            signal.sender_receivers_cache.clear()


def submit(agent, actor, value, **overrides):
    completed = timezone.now() - timedelta(minutes=1)
    arguments = {
        "agent": agent,
        "pact_version": agent.pact_version,
        "evaluator": "nightly",
        "evaluator_kind": "code",
        "independent": True,
        "started_at": completed - timedelta(minutes=5),
        "completed_at": completed,
        "results": [{"obligation": "task_success_rate", "value": value}],
        "actor": actor,
    }
    return evaluation_submit(**{**arguments, **overrides})


def open_dispute(agent, actor, reference="ESCROW-1"):
    return dispute_open(
        agent=agent,
        reference=reference,
        counterparty="Northwind",
        amount="300.00",
        currency="USD",
        actor=actor,
    )


@pytest.mark.django_db
def test_a_failed_evaluation_announces_obligation_breached(agent, actor, received):
    obligation = agent.pact_version.obligations.get()

    outcome = submit(agent, actor, 0.5)

    assert received.kinds == [handoff.OBLIGATION_BREACHED]
    event = received.events[0]
    evaluation = outcome.evaluation
    assert event.agent_id == agent.pk
    assert event.observed_at == evaluation.completed_at
    assert event.source_key == f"evaluation:{evaluation.pk}"
    assert event.pact_id == agent.pact_version.pact_id
    assert event.actor_id == actor.pk
    assert event.data == {
        "evaluation_id": evaluation.pk,
        "failures": [
            {
                "obligation_id": obligation.pk,
                "metric": "task_success_rate",
                "value": 0.5,
                "comparator": "gte",
                "threshold": 0.9,
                "severity": "SEV3",
            }
        ],
    }


@pytest.mark.django_db
def test_a_passing_first_evaluation_announces_nothing(agent, actor, received):
    submit(agent, actor, 0.95)
    assert received.events == []


@pytest.mark.django_db
def test_a_score_change_announces_score_changed(agent, actor, received):
    submit(agent, actor, 0.95)

    outcome = submit(agent, actor, 0.5)

    assert received.kinds == [handoff.SCORE_CHANGED, handoff.OBLIGATION_BREACHED]
    event = received.events[0]
    assert event.agent_id == agent.pk
    assert event.source_key == f"score:{outcome.score.pk}"
    assert event.observed_at == outcome.score.computed_at
    assert event.pact_id == agent.pact_version.pact_id
    assert event.actor_id == actor.pk
    assert event.data == {"previous": 1000, "current": 500, "score_id": outcome.score.pk}


@pytest.mark.django_db
def test_an_unchanged_score_announces_nothing(agent, actor, received):
    submit(agent, actor, 0.95)
    submit(agent, actor, 0.99)
    score_recompute(agent=agent, reason="Nightly", actor=actor)
    assert received.events == []
    assert Score.objects.filter(agent=agent).count() == 3


@pytest.mark.django_db
def test_a_score_change_by_a_job_has_no_actor(agent, actor, received):
    submit(agent, actor, 0.95)
    with time_machine.travel(timedelta(days=30)):  # the evidence has gone stale
        score = score_recompute(agent=agent, reason="Freshness job")
    (event,) = received.events
    assert (event.kind, event.actor_id) == (handoff.SCORE_CHANGED, None)
    assert event.data["current"] == score.value < 1000


@pytest.mark.django_db
def test_opening_a_dispute_announces_dispute_opened(agent, actor, received):
    dispute = open_dispute(agent, actor)

    (event,) = received.events
    assert event.kind == handoff.DISPUTE_OPENED
    assert event.agent_id == agent.pk
    assert event.observed_at == dispute.opened_at
    assert event.source_key == f"dispute:{dispute.pk}"
    assert event.actor_id == actor.pk
    assert event.data == {"dispute_id": dispute.pk, "amount": "300.00", "currency": "USD"}


@pytest.mark.django_db
def test_reopening_a_dispute_announces_nothing_new(agent, actor, received):
    open_dispute(agent, actor)
    open_dispute(agent, actor)
    assert received.kinds == [handoff.DISPUTE_OPENED]


@pytest.mark.django_db
def test_a_lost_dispute_announces_the_score_change(agent, actor, received):
    submit(agent, actor, 0.95)
    dispute = open_dispute(agent, actor)

    dispute_resolve(dispute=dispute, outcome=DisputeOutcome.AGAINST_AGENT, actor=actor)

    assert received.kinds == [handoff.DISPUTE_OPENED, handoff.SCORE_CHANGED]
    assert received.events[1].data["previous"] == 1000
    assert received.events[1].data["current"] == 900


@pytest.mark.django_db
def test_a_refused_submission_announces_nothing(agent, actor, received):
    with pytest.raises(ValidationFailed):
        submit(agent, actor, 0.5, evidence_uri="s3://no-digest")
    assert received.events == []


# --- inside the transaction: the receiver's writes and the evidence commit together -----------


@pytest.mark.django_db(transaction=True)
def test_events_are_sent_inside_the_services_transaction(actor, received):
    agent = AgentFactory()
    seen = []

    def check(sender, event, **kwargs):
        seen.append(Evaluation.objects.filter(agent=agent).exists())

    handoff.evidence_recorded.connect(check, dispatch_uid="test-trust-handoff-check")
    try:
        submit(agent, actor, 0.5)
        open_dispute(agent, actor)
    finally:
        handoff.evidence_recorded.disconnect(dispatch_uid="test-trust-handoff-check")

    assert received.kinds == [handoff.OBLIGATION_BREACHED, handoff.DISPUTE_OPENED]
    assert received.in_atomic_block == [True, True]
    assert seen == [True, True]  # the receiver sees the evidence being written


@pytest.mark.django_db(transaction=True)
def test_a_failing_receiver_rolls_the_evidence_back(actor, received):
    agent = AgentFactory()

    def fail(sender, event, **kwargs):
        raise RuntimeError("escalations is down")

    handoff.evidence_recorded.connect(fail, dispatch_uid="test-trust-handoff-fail")
    try:
        with pytest.raises(RuntimeError):
            submit(agent, actor, 0.5)
        with pytest.raises(RuntimeError):
            open_dispute(agent, actor)
    finally:
        handoff.evidence_recorded.disconnect(dispatch_uid="test-trust-handoff-fail")

    assert not Evaluation.objects.exists()
    assert not Score.objects.exists()
    assert not Dispute.objects.exists()
