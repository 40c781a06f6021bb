"""The trust hand-off: evidence recorded in trust opens incidents through the receiver."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from escalations.choices import EscalationReason, SignalKind
from escalations.models import Incident, Signal
from tests.factories import AgentFactory, ObligationFactory, PactVersionFactory
from trust import handoff
from trust.models import Evaluation
from trust.services.disputes import dispute_open
from trust.services.evaluations import evaluation_submit

pytestmark = pytest.mark.django_db


def submit(agent, actor, value, *, ago=timedelta(minutes=1), **overrides):
    completed = timezone.now() - ago
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


def test_a_failed_evaluation_opens_a_pact_breach_incident(agent, actor, defaults):
    outcome = submit(agent, actor, 0.5)

    signal = Signal.objects.get(kind=SignalKind.PACT_BREACH)
    assert (signal.source, signal.idempotency_key) == (
        "atoc",
        f"evaluation:{outcome.evaluation.pk}",
    )
    assert signal.value == 1.0
    assert signal.received_by == actor
    assert signal.payload["failures"][0]["metric"] == "task_success_rate"
    incident = signal.incident
    assert incident.kind == SignalKind.PACT_BREACH
    assert incident.pact_id == agent.pact_version.pact_id
    assert incident.severity == defaults.levels["SEV3"]  # the obligation's breach severity
    agent.refresh_from_db()
    assert agent.open_incident_count == 1


def test_a_passing_evaluation_raises_no_signal(agent, actor):
    submit(agent, actor, 0.95)
    assert not Signal.objects.exists()


def test_the_worst_failed_obligation_raises_the_opening_severity(actor, defaults):
    version = PactVersionFactory(obligation=None)
    ObligationFactory(pact_version=version, metric="task_success_rate", breach_severity="SEV4")
    ObligationFactory(pact_version=version, metric="refund_accuracy", breach_severity="SEV2")
    agent = AgentFactory(pact_version=version)

    submit(
        agent,
        actor,
        None,
        results=[
            {"obligation": "task_success_rate", "value": 0.1},
            {"obligation": "refund_accuracy", "value": 0.2},
        ],
    )

    signal = Signal.objects.get(kind=SignalKind.PACT_BREACH)
    assert signal.value == 2.0
    assert signal.incident.severity == defaults.levels["SEV2"]


def test_a_graver_breach_raises_the_open_incident_as_new_evidence(actor, defaults):
    version = PactVersionFactory(obligation=None)
    ObligationFactory(pact_version=version, metric="task_success_rate", breach_severity="SEV3")
    ObligationFactory(pact_version=version, metric="refund_accuracy", breach_severity="SEV1")
    agent = AgentFactory(pact_version=version)
    submit(
        agent,
        actor,
        None,
        results=[
            {"obligation": "task_success_rate", "value": 0.1},
            {"obligation": "refund_accuracy", "value": 0.95},
        ],
    )

    submit(
        agent,
        actor,
        None,
        results=[
            {"obligation": "task_success_rate", "value": 0.95},
            {"obligation": "refund_accuracy", "value": 0.1},
        ],
    )

    incident = Incident.objects.get(kind=SignalKind.PACT_BREACH)
    assert incident.severity == defaults.levels["SEV1"]
    assert incident.signal_count == 2
    (escalation,) = incident.escalations.all()
    assert escalation.reason == EscalationReason.NEW_EVIDENCE


def test_a_dispute_opens_a_settlement_dispute_incident_routed_to_finance(agent, actor, defaults):
    dispute = dispute_open(
        agent=agent,
        reference="ESCROW-7",
        counterparty="Northwind",
        amount="1250.00",
        currency="EUR",
        actor=actor,
    )
    dispute_open(  # a retried call: the same dispute, no new signal
        agent=agent,
        reference="ESCROW-7",
        counterparty="Northwind",
        amount="1250.00",
        currency="EUR",
        actor=actor,
    )

    signal = Signal.objects.get()
    assert signal.kind == SignalKind.SETTLEMENT_DISPUTE
    assert signal.idempotency_key == f"dispute:{dispute.pk}"
    assert signal.value == 1250.0
    incident = signal.incident
    assert set(incident.counterparts.values_list("function", flat=True)) == {"finance", "business"}
    assert incident.routing_snapshot["default"] is False


def test_a_score_drop_past_the_threshold_opens_score_drop(agent, actor):
    submit(agent, actor, 1.0, ago=timedelta(hours=2))
    agent.refresh_from_db()
    assert agent.current_score >= 900

    submit(agent, actor, 0.0)  # the pass rate halves: a drop of hundreds of points

    signal = Signal.objects.get(kind=SignalKind.SCORE_DROP)
    assert signal.value >= 100
    assert signal.incident.kind == SignalKind.SCORE_DROP
    assert Incident.objects.filter(kind=SignalKind.PACT_BREACH).count() == 1


def _announce_score(agent, previous, current, key):
    handoff.announce(
        handoff.EvidenceEvent(
            kind=handoff.SCORE_CHANGED,
            agent_id=agent.pk,
            observed_at=timezone.now(),
            source_key=key,
            pact_id=agent.pact_version.pact_id,
            data={"previous": previous, "current": current, "score_id": 1},
        )
    )


@pytest.mark.parametrize(
    ("previous", "current", "raised"),
    [(900, 801, False), (900, 800, True), (800, 900, False), (900, 900, False)],
)
def test_only_a_drop_of_at_least_the_threshold_raises_a_signal(agent, previous, current, raised):
    _announce_score(agent, previous, current, "score:1")
    assert Signal.objects.filter(kind=SignalKind.SCORE_DROP).exists() is raised


def test_the_threshold_is_the_controls_condition(agent, defaults):
    control = defaults.controls["score_drop"]
    control.condition = {"threshold": 20}
    control.save()

    _announce_score(agent, 900, 870, "score:2")

    assert Signal.objects.get().value == 30.0


def test_a_retried_announcement_never_duplicates_the_signal(agent):
    _announce_score(agent, 900, 700, "score:3")
    _announce_score(agent, 900, 700, "score:3")
    assert Signal.objects.count() == 1


def test_a_rolled_back_evaluation_leaves_no_signal(agent, actor):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        submit(agent, actor, 0.5)
        assert Signal.objects.exists()
        raise Abort

    assert not Evaluation.objects.exists()
    assert not Signal.objects.exists() and not Incident.objects.exists()


def test_a_job_on_its_own_clock_still_raises_its_signal(agent, actor):
    """A score recomputed by a job at a later ``now`` is not refused as from the future."""
    from trust.services.scores import score_recompute

    submit(agent, actor, 1.0)
    score_recompute(agent=agent, reason="Freshness job", now=timezone.now() + timedelta(days=40))

    assert Signal.objects.filter(kind=SignalKind.SCORE_DROP).exists()
