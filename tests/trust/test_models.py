"""The trust models' invariants, enforced by PostgreSQL itself.

Every CheckConstraint and UniqueConstraint is exercised with a row that breaks it,
written around the services (an update or a direct insert), inside ``atomic()``.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from tests.factories import (
    AgentFactory,
    DisputeFactory,
    EvaluationFactory,
    EvaluationResultFactory,
    ObligationFactory,
    PactFactory,
    PactVersionFactory,
    ScoreFactory,
    TeamFactory,
)
from tests.trust.support import violates
from trust.choices import DisputeOutcome, DisputeState, MetricUnit, PactVersionState
from trust.models import Agent, Dispute, Evaluation, Obligation, PactVersion, Score

pytestmark = pytest.mark.django_db


def update(instance, **values):
    type(instance).objects.filter(pk=instance.pk).update(**values)


# --- Agent, Team, Pact ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("tier", 0, "agent_tier_1_3"),
        ("tier", 4, "agent_tier_1_3"),
        ("status", "paused", "agent_status_valid"),
        ("autonomy", "total", "agent_autonomy_valid"),
        ("routing", "nowhere", "agent_routing_valid"),
        ("current_score", 1001, "agent_score_0_1000"),
    ],
)
def test_agent_constraint_rejects_bad_row(agent, field, value, constraint):
    with violates(constraint):
        update(agent, **{field: value})


def test_agent_score_cannot_be_negative(agent):
    with violates("trust_agent_current_score", prefix=True):
        update(agent, current_score=-1)


@pytest.mark.parametrize("tier", [1, 2, 3])
def test_agent_tiers_one_to_three_are_accepted(agent, tier):
    update(agent, tier=tier, current_score=1000)
    assert Agent.objects.get(pk=agent.pk).tier == tier


def test_agent_slug_is_unique(agent):
    with violates("trust_agent_slug", prefix=True):
        AgentFactory(slug=agent.slug, team=agent.team, pact_version=agent.pact_version)


def test_team_slug_and_name_are_unique():
    team = TeamFactory()
    with violates("trust_team_slug", prefix=True):
        TeamFactory(slug=team.slug)
    with violates("trust_team_name", prefix=True):
        TeamFactory(name=team.name)


def test_pact_slug_is_unique():
    pact = PactFactory()
    with violates("trust_pact_slug", prefix=True):
        PactFactory(slug=pact.slug)


# --- PactVersion and Obligation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("freshness_window", timedelta(0), "pactversion_window_positive"),
        ("freshness_window", timedelta(days=-1), "pactversion_window_positive"),
        ("review_cadence", timedelta(0), "pactversion_cadence_positive"),
        ("review_cadence", timedelta(seconds=-1), "pactversion_cadence_positive"),
        ("state", "archived", "pactversion_state_valid"),
        ("published_at", None, "pactversion_published_has_time"),
    ],
)
def test_pact_version_constraint_rejects_bad_row(field, value, constraint):
    version = PactVersionFactory()
    with violates(constraint):
        update(version, **{field: value})


def test_draft_pact_version_needs_no_publication_time():
    version = PactVersionFactory(state=PactVersionState.DRAFT, published_at=None)
    assert PactVersion.objects.get(pk=version.pk).published_at is None


def test_pact_version_number_is_unique_per_pact():
    version = PactVersionFactory()
    with violates("pactversion_unique_number"):
        PactVersionFactory(pact=version.pact, number=version.number)
    PactVersionFactory(number=version.number)  # the same number on another pact is fine


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("window", timedelta(0), "obligation_window_positive"),
        ("window", timedelta(hours=-1), "obligation_window_positive"),
        ("comparator", "between", "obligation_comparator_valid"),
        ("breach_severity", "SEV9", "obligation_severity_valid"),
        ("unit", "percent", "obligation_unit_valid"),
        ("threshold", 1.5, "obligation_ratio_threshold_0_1"),
        ("threshold", -0.1, "obligation_ratio_threshold_0_1"),
    ],
)
def test_obligation_constraint_rejects_bad_row(field, value, constraint):
    obligation = ObligationFactory()
    with violates(constraint):
        update(obligation, **{field: value})


def test_threshold_above_one_is_fine_for_a_count():
    obligation = ObligationFactory(unit=MetricUnit.COUNT, comparator="lte", threshold=5)
    assert Obligation.objects.get(pk=obligation.pk).threshold == 5


def test_a_pact_version_has_one_obligation_per_metric():
    obligation = ObligationFactory()
    with violates("obligation_unique_metric"):
        ObligationFactory(pact_version=obligation.pact_version, metric=obligation.metric)


# --- Evaluation, EvaluationResult, Score ---------------------------------------------------


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"completed_at": timezone.now() - timedelta(hours=1)}, "evaluation_completed_after_start"),
        ({"evidence_sha256": "A" * 64}, "evaluation_sha256_hex"),
        ({"evidence_sha256": "a" * 63}, "evaluation_sha256_hex"),
        ({"evidence_sha256": "g" * 64}, "evaluation_sha256_hex"),
        ({"evidence_sha256": "sha256:" + "a" * 57}, "evaluation_sha256_hex"),
        ({"verdict": "maybe"}, "evaluation_verdict_valid"),
        ({"evaluator_kind": "oracle"}, "evaluation_evaluator_kind_valid"),
    ],
)
def test_evaluation_constraint_rejects_bad_row(values, constraint):
    evaluation = EvaluationFactory(started_at=timezone.now())
    with violates(constraint):
        update(evaluation, **values)


def test_evaluation_may_complete_when_it_starts_and_carry_a_lowercase_digest():
    now = timezone.now()
    evaluation = EvaluationFactory(started_at=now, completed_at=now, evidence_sha256="0f" * 32)
    assert Evaluation.objects.get(pk=evaluation.pk).evidence_sha256 == "0f" * 32


def test_an_evaluation_has_one_result_per_obligation():
    result = EvaluationResultFactory()
    with violates("evaluationresult_unique_obligation"):
        EvaluationResultFactory(evaluation=result.evaluation, obligation=result.obligation)


@pytest.mark.parametrize(
    ("field", "value", "constraint", "prefix"),
    [
        ("value", 1001, "score_value_0_1000", False),
        ("value", -1, "trust_score_value", True),
        ("previous_value", 1001, "score_previous_0_1000", False),
    ],
)
def test_score_constraint_rejects_bad_row(field, value, constraint, prefix):
    score = ScoreFactory()
    with violates(constraint, prefix=prefix):
        update(score, **{field: value})


@pytest.mark.parametrize("value", [0, 1000])
def test_score_bounds_are_accepted(value):
    score = ScoreFactory(value=value, previous_value=1000 - value)
    assert Score.objects.get(pk=score.pk).change == 2 * value - 1000


# --- Dispute ---------------------------------------------------------------------------------

LATER = timedelta(hours=2)


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"amount": Decimal("0")}, "dispute_amount_positive"),
        ({"amount": Decimal("-5.00")}, "dispute_amount_positive"),
        ({"currency": "eur"}, "dispute_currency_iso"),
        ({"currency": "EU"}, "dispute_currency_iso"),
        ({"currency": "E1R"}, "dispute_currency_iso"),
        ({"outcome": DisputeOutcome.SETTLED}, "dispute_resolution_consistent"),
        ({"resolved_at": "later"}, "dispute_resolution_consistent"),
        ({"state": DisputeState.RESOLVED, "resolved_at": "later"}, "dispute_resolution_consistent"),
        (
            {"state": DisputeState.RESOLVED, "outcome": DisputeOutcome.SETTLED},
            "dispute_resolution_consistent",
        ),
        ({"state": "closed"}, "dispute_resolution_consistent"),
        (
            {"state": DisputeState.RESOLVED, "outcome": "lost_badly", "resolved_at": "later"},
            "dispute_outcome_valid",
        ),
        (
            {
                "state": DisputeState.RESOLVED,
                "outcome": DisputeOutcome.SETTLED,
                "resolved_at": "earlier",
            },
            "dispute_resolved_after_opened",
        ),
    ],
)
def test_dispute_constraint_rejects_bad_row(values, constraint):
    dispute = DisputeFactory()
    moments = {"later": dispute.opened_at + LATER, "earlier": dispute.opened_at - LATER}
    values = {k: moments.get(v, v) if k == "resolved_at" else v for k, v in values.items()}
    with violates(constraint):
        update(dispute, **values)


def test_a_consistently_resolved_dispute_is_accepted():
    dispute = DisputeFactory()
    update(
        dispute,
        state=DisputeState.RESOLVED,
        outcome=DisputeOutcome.AGAINST_AGENT,
        resolved_at=dispute.opened_at,
    )
    assert Dispute.objects.get(pk=dispute.pk).outcome == DisputeOutcome.AGAINST_AGENT


def test_dispute_reference_is_unique():
    dispute = DisputeFactory()
    with violates("trust_dispute_reference", prefix=True):
        DisputeFactory(reference=dispute.reference, agent=dispute.agent)


# --- PROTECT: evidence outlives nothing it refers to --------------------------------------


def assert_protected(instance):
    with pytest.raises(ProtectedError), transaction.atomic():
        instance.delete()
    assert type(instance).objects.filter(pk=instance.pk).exists()


def test_deleting_an_agent_with_an_evaluation_is_refused():
    evaluation = EvaluationFactory()
    assert_protected(evaluation.agent)


def test_deleting_an_agent_with_a_score_is_refused():
    assert_protected(ScoreFactory().agent)


def test_deleting_an_agent_with_a_dispute_is_refused():
    assert_protected(DisputeFactory().agent)


def test_deleting_an_evaluation_with_results_is_refused():
    assert_protected(EvaluationResultFactory().evaluation)


def test_deleting_evaluated_obligations_and_held_pact_versions_is_refused(agent):
    result = EvaluationResultFactory(evaluation__agent=agent)
    assert_protected(result.obligation)
    assert_protected(agent.pact_version)
    assert_protected(agent.team)


# --- small model behaviour ----------------------------------------------------------------


def test_agent_is_stale_only_after_its_evaluation_due_time(agent):
    now = timezone.now()
    agent.evaluation_due_at = now
    assert not agent.is_stale(now)
    assert agent.is_stale(now + timedelta(seconds=1))
    agent.evaluation_due_at = None
    assert not agent.is_stale(now)


def test_evaluation_pass_rate():
    assert EvaluationFactory.build(passed_count=3, failed_count=1).pass_rate == 0.75
    assert EvaluationFactory.build(passed_count=0, failed_count=0).pass_rate == 0.0


def test_score_change_is_none_for_a_first_score():
    assert ScoreFactory.build(value=700, previous_value=None).change is None
