"""Opening and resolving settlement disputes."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from atoc.core.exceptions import InvalidTransition, ValidationFailed
from tests.factories import AgentFactory, EvaluationFactory
from tests.trust.support import refused, trust_snapshot
from trust.choices import DisputeOutcome, DisputeState
from trust.models import Agent, Dispute, Score
from trust.services.disputes import dispute_open, dispute_resolve
from trust.services.scores import score_recompute

pytestmark = pytest.mark.django_db


def open_dispute(agent, actor, **overrides):
    arguments = {
        "agent": agent,
        "reference": "ESCROW-7781",
        "counterparty": "Northwind Traders",
        "amount": "1250.50",
        "currency": "eur",
        "description": "Refund issued twice",
        "actor": actor,
    }
    return dispute_open(**{**arguments, **overrides})


@pytest.fixture
def dispute(agent, actor):
    return open_dispute(agent, actor)


# --- dispute_open -------------------------------------------------------------------------------


def test_dispute_open_records_the_dispute(dispute, agent, actor):
    stored = Dispute.objects.get(pk=dispute.pk)
    assert (stored.agent, stored.reference, stored.counterparty) == (
        agent,
        "ESCROW-7781",
        "Northwind Traders",
    )
    assert (stored.amount, stored.currency) == (Decimal("1250.50"), "EUR")
    assert stored.state == DisputeState.OPEN
    assert stored.outcome == ""
    assert stored.resolved_at is None
    assert stored.opened_by == actor


def test_dispute_open_accepts_a_past_opening_time(agent, actor):
    opened = timezone.now() - timedelta(days=2)
    assert open_dispute(agent, actor, opened_at=opened).opened_at == opened


def test_opening_the_same_reference_again_returns_the_dispute_and_writes_nothing(
    dispute, agent, actor
):
    before = trust_snapshot()
    again = open_dispute(agent, actor, amount="99.00")
    assert again.pk == dispute.pk
    assert again.amount == Decimal("1250.50")
    assert trust_snapshot() == before


def test_a_reference_of_another_agents_dispute_is_refused(dispute, actor):
    other = AgentFactory()
    with refused(ValidationFailed, field="reference"):
        open_dispute(other, actor)


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("reference", {"reference": ""}),
        ("reference", {"reference": "R" * 101}),
        ("counterparty", {"counterparty": ""}),
        ("counterparty", {"counterparty": "C" * 201}),
        ("amount", {"amount": 0}),
        ("amount", {"amount": "-10.00"}),
        ("amount", {"amount": "lots"}),
        ("amount", {"amount": float("nan")}),
        ("amount", {"amount": "Infinity"}),
        ("amount", {"amount": "10.001"}),
        ("amount", {"amount": Decimal("1e12")}),
        ("amount", {"amount": None}),
        ("currency", {"currency": "EURO"}),
        ("currency", {"currency": "E1"}),
        ("currency", {"currency": ""}),
        ("currency", {"currency": None}),
        ("opened_at", {"opened_at": timezone.now() + timedelta(hours=1)}),
        ("opened_at", {"opened_at": datetime(2025, 1, 1)}),
        ("opened_at", {"opened_at": "yesterday"}),
    ],
)
def test_dispute_open_refuses_bad_input_naming_the_field(agent, actor, field, overrides):
    with refused(ValidationFailed, field=field):
        open_dispute(agent, actor, **overrides)


def test_the_largest_amount_the_column_holds_is_accepted(agent, actor):
    dispute = open_dispute(agent, actor, amount="999999999999.99")
    assert Dispute.objects.get(pk=dispute.pk).amount == Decimal("999999999999.99")


# --- dispute_resolve ------------------------------------------------------------------------------


def test_dispute_resolve_closes_it_with_the_outcome(dispute, actor):
    resolved = dispute_resolve(
        dispute=dispute, outcome=DisputeOutcome.SETTLED, actor=actor, note="Split 50/50"
    )
    stored = Dispute.objects.get(pk=dispute.pk)
    assert (stored.state, stored.outcome, stored.resolution_note) == (
        DisputeState.RESOLVED,
        DisputeOutcome.SETTLED,
        "Split 50/50",
    )
    assert stored.resolved_by == actor
    assert stored.resolved_at is not None
    assert resolved.resolved_at == stored.resolved_at


def test_resolving_twice_with_the_same_outcome_is_a_no_op(dispute, actor):
    first = dispute_resolve(dispute=dispute, outcome=DisputeOutcome.WITHDRAWN, actor=actor)
    before = trust_snapshot()
    again = dispute_resolve(dispute=dispute, outcome=DisputeOutcome.WITHDRAWN, actor=actor)
    assert again.resolved_at == first.resolved_at
    assert trust_snapshot() == before


def test_resolving_again_with_another_outcome_is_refused(dispute, actor):
    dispute_resolve(dispute=dispute, outcome=DisputeOutcome.FOR_AGENT, actor=actor)
    with refused(InvalidTransition, field="outcome"):
        dispute_resolve(dispute=dispute, outcome=DisputeOutcome.AGAINST_AGENT, actor=actor)


@pytest.mark.parametrize("outcome", ["lost", "", None, "AGAINST_AGENT"])
def test_an_unknown_outcome_is_refused(dispute, actor, outcome):
    with refused(ValidationFailed, field="outcome"):
        dispute_resolve(dispute=dispute, outcome=outcome, actor=actor)


@pytest.mark.parametrize(
    "resolved_at",
    [
        timezone.now() - timedelta(days=365),
        timezone.now() + timedelta(hours=1),
        datetime(2030, 1, 1),
        "today",
    ],
)
def test_an_impossible_resolution_time_is_refused(dispute, actor, resolved_at):
    with refused(ValidationFailed, field="resolved_at"):
        dispute_resolve(
            dispute=dispute, outcome=DisputeOutcome.SETTLED, actor=actor, resolved_at=resolved_at
        )


def test_a_lost_dispute_lowers_the_score(agent, actor):
    EvaluationFactory(agent=agent)
    dispute = open_dispute(agent, actor)
    # The baseline counts whatever the opening led to (an incident, once escalations has one).
    baseline = score_recompute(agent=agent, reason="Baseline", actor=actor).value

    dispute_resolve(dispute=dispute, outcome=DisputeOutcome.AGAINST_AGENT, actor=actor)

    score = Score.objects.filter(agent=agent).first()
    assert (score.value, score.previous_value) == (baseline - 100, baseline)
    assert Agent.objects.get(pk=agent.pk).current_score == baseline - 100
    assert score.reason == "Dispute ESCROW-7781 lost"
    assert (score.components["lost_disputes"], score.components["dispute_penalty"]) == (1, 100)


@pytest.mark.parametrize(
    "outcome", [DisputeOutcome.FOR_AGENT, DisputeOutcome.SETTLED, DisputeOutcome.WITHDRAWN]
)
def test_a_dispute_not_lost_leaves_the_score_alone(agent, actor, outcome):
    EvaluationFactory(agent=agent)
    dispute = open_dispute(agent, actor)
    baseline = score_recompute(agent=agent, reason="Baseline", actor=actor)
    dispute_resolve(dispute=dispute, outcome=outcome, actor=actor)
    assert Score.objects.filter(agent=agent).latest("id") == baseline
