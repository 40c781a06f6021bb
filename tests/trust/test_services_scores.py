"""Computing and recording an agent's trust score from its evidence."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import AgentFactory, DisputeFactory, EvaluationFactory
from trust.choices import DisputeOutcome, DisputeState
from trust.models import Agent, Score
from trust.services.agents import agent_set_incident_summary
from trust.services.scores import score_recompute

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
DAY = timedelta(days=1)


def evaluate(agent, *, age=timedelta(0), passed=1, failed=0, independent=True):
    return EvaluationFactory(
        agent=agent,
        completed_at=NOW - age,
        passed_count=passed,
        failed_count=failed,
        verdict="fail" if failed else "pass",
        independent=independent,
    )


def lose_dispute(agent, *, resolved_ago=DAY):
    resolved_at = NOW - resolved_ago
    return DisputeFactory(
        agent=agent,
        opened_at=resolved_at - DAY,
        state=DisputeState.RESOLVED,
        outcome=DisputeOutcome.AGAINST_AGENT,
        resolved_at=resolved_at,
    )


def test_an_agent_without_evaluations_gets_no_score(agent, actor):
    assert score_recompute(agent=agent, reason="Nightly", actor=actor, now=NOW) is None
    assert not Score.objects.exists()
    assert Agent.objects.get(pk=agent.pk).current_score is None


def test_recompute_records_the_score_with_its_components(agent, actor):
    evaluate(agent, passed=3, failed=1)

    score = score_recompute(agent=agent, reason="Nightly", actor=actor, now=NOW)

    assert Score.objects.get() == score
    assert (score.value, score.previous_value, score.computed_at) == (750, None, NOW)
    assert score.reason == "Nightly"
    assert score.components["evidence_rate"] == 0.75
    assert score.components["staleness_factor"] == 1.0
    assert score.components["last_evaluated_at"] == NOW.isoformat()
    stored = Agent.objects.get(pk=agent.pk)
    assert (stored.current_score, stored.score_at) == (750, NOW)


def test_recompute_keeps_the_previous_value(agent, actor):
    evaluate(agent)
    score_recompute(agent=agent, reason="First", actor=actor, now=NOW)
    evaluate(agent, passed=0, failed=1)

    score = score_recompute(agent=agent, reason="Second", actor=actor, now=NOW)

    assert (score.previous_value, score.value, score.change) == (1000, 500, -500)
    assert Score.objects.filter(agent=agent).count() == 2


def test_open_incidents_lower_the_score(agent, actor):
    evaluate(agent)
    agent_set_incident_summary(
        agent_id=agent.pk, open_count=2, highest_severity="SEV2", highest_rank=3
    )

    score = score_recompute(agent=agent, reason="Incident opened", actor=actor, now=NOW)

    assert score.value == 880
    assert (score.components["open_incidents"], score.components["incident_penalty"]) == (2, 120)


def test_disputes_lost_in_the_last_180_days_lower_the_score(agent, actor):
    evaluate(agent)
    lose_dispute(agent, resolved_ago=DAY)
    lose_dispute(agent, resolved_ago=179 * DAY)
    lose_dispute(agent, resolved_ago=181 * DAY)
    DisputeFactory(agent=agent)  # still open: no penalty

    score = score_recompute(agent=agent, reason="Dispute lost", actor=actor, now=NOW)

    assert score.value == 800
    assert score.components["lost_disputes"] == 2


def test_disputes_of_other_agents_do_not_count(agent, actor):
    evaluate(agent)
    lose_dispute(AgentFactory())
    assert score_recompute(agent=agent, reason="x", actor=actor, now=NOW).value == 1000


def test_stale_evidence_decays_with_the_pact_versions_window(actor):
    agent = AgentFactory(pact_version__freshness_window=7 * DAY)
    evaluate(agent, age=14 * DAY)
    assert score_recompute(agent=agent, reason="Stale", actor=actor, now=NOW).value == 500


def test_an_agent_without_a_pact_decays_with_a_week(actor):
    agent = AgentFactory(pact_version=None)
    EvaluationFactory(
        agent=agent, pact_version=AgentFactory().pact_version, completed_at=NOW - 21 * DAY
    )
    score = score_recompute(agent=agent, reason="Stale", actor=actor, now=NOW)
    assert score.value == 250


def test_only_the_newest_twenty_evaluations_count(agent, actor):
    evaluate(agent, age=3 * DAY, passed=0, failed=1)
    for hours in range(20):
        evaluate(agent, age=timedelta(hours=hours))
    score = score_recompute(agent=agent, reason="Many", actor=actor, now=NOW)
    assert (score.value, score.components["evaluations_used"]) == (1000, 20)


def test_recompute_without_an_actor_is_allowed_for_jobs(agent):
    evaluate(agent)
    assert score_recompute(agent=agent, reason="Freshness job", now=NOW).value == 1000


def test_a_long_reason_is_cut_to_the_column(agent, actor):
    evaluate(agent)
    score = score_recompute(agent=agent, reason="r" * 300, actor=actor, now=NOW)
    assert Score.objects.get(pk=score.pk).reason == "r" * 200
