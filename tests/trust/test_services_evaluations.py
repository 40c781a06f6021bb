"""Submitting evaluations: verdicts, results, the agent's read fields and the score."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from atoc.core.exceptions import ValidationFailed
from tests.factories import AgentFactory, ObligationFactory, PactVersionFactory, TeamFactory
from tests.trust.support import refused
from trust.choices import EvaluatorKind, PactVersionState, Verdict
from trust.models import Agent, Evaluation, EvaluationResult, Score
from trust.services.agents import agent_create
from trust.services.evaluations import evaluation_submit
from trust.services.pacts import pact_create, pact_version_create

pytestmark = pytest.mark.django_db

WINDOW = timedelta(days=7)
DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


@pytest.fixture
def version(actor):
    pact = pact_create(slug="support-replies", name="Support replies", actor=actor)
    return pact_version_create(
        pact=pact,
        freshness_window=WINDOW,
        review_cadence=timedelta(days=30),
        obligations=[
            {
                "metric": "task_success_rate",
                "comparator": "gte",
                "threshold": 0.9,
                "unit": "ratio",
                "window": timedelta(days=1),
                "breach_severity": "SEV2",
            },
            {
                "metric": "p95_latency",
                "comparator": "lte",
                "threshold": 2.5,
                "unit": "seconds",
                "window": timedelta(days=1),
            },
        ],
        publish=True,
        actor=actor,
    )


@pytest.fixture
def agent(version, actor):
    return agent_create(
        slug="reply-bot",
        name="Reply bot",
        team=TeamFactory(),
        tier=1,
        pact_version=version,
        actor=actor,
    )


@pytest.fixture
def obligations(version):
    return {o.metric: o for o in version.obligations.all()}


def submit(agent, version, actor, *, results=None, **overrides):
    completed = timezone.now() - timedelta(minutes=1)
    arguments = {
        "agent": agent,
        "pact_version": version,
        "evaluator": "nightly-eval",
        "evaluator_kind": EvaluatorKind.CODE,
        "independent": True,
        "suite": "regression",
        "started_at": completed - timedelta(minutes=10),
        "completed_at": completed,
        "results": results
        if results is not None
        else [
            {"obligation": "task_success_rate", "value": 0.97, "label": "good"},
            {"obligation": "p95_latency", "value": 1.2},
        ],
        "actor": actor,
    }
    return evaluation_submit(**{**arguments, **overrides})


# --- happy paths ---------------------------------------------------------------------------------


def test_passing_evaluation_is_stored_with_its_results(agent, version, actor, obligations):
    outcome = submit(
        agent,
        version,
        actor,
        evidence_uri="s3://evidence/run-1.json",
        evidence_sha256=DIGEST,
        trace_url="https://traces.example.com/t/1",
    )

    evaluation = Evaluation.objects.get(pk=outcome.evaluation.pk)
    assert evaluation.verdict == Verdict.PASS
    assert (evaluation.passed_count, evaluation.failed_count) == (2, 0)
    assert (evaluation.evaluator, evaluation.evaluator_kind) == ("nightly-eval", "code")
    assert evaluation.independent is True
    assert evaluation.submitted_by == actor
    assert evaluation.evidence_sha256 == DIGEST
    results = {r.obligation.metric: r for r in evaluation.results.all()}
    assert results["task_success_rate"].value == 0.97
    assert results["task_success_rate"].label == "good"
    assert all(r.passed for r in results.values())
    assert outcome.failures == []


def test_evaluation_updates_the_agents_read_fields_and_writes_a_score(agent, version, actor):
    outcome = submit(agent, version, actor)

    stored = Agent.objects.get(pk=agent.pk)
    completed = outcome.evaluation.completed_at
    assert stored.last_evaluated_at == completed
    assert stored.evaluation_due_at == completed + WINDOW
    assert stored.current_score == 1000
    score = Score.objects.get(agent=agent)
    assert outcome.score == score
    assert score.value == 1000
    assert score.previous_value is None
    assert score.reason == f"Evaluation #{outcome.evaluation.pk} (pass)"
    assert score.components["evaluations_used"] == 1
    assert stored.score_at == score.computed_at


def test_a_failed_obligation_fails_the_evaluation(agent, version, actor, obligations):
    submit(agent, version, actor)
    outcome = submit(
        agent,
        version,
        actor,
        results=[
            {"obligation": "task_success_rate", "value": 0.5, "explanation": "half wrong"},
            {"obligation": "p95_latency", "value": 2.5},
        ],
    )

    evaluation = outcome.evaluation
    assert evaluation.verdict == Verdict.FAIL
    assert (evaluation.passed_count, evaluation.failed_count) == (1, 1)
    failed = EvaluationResult.objects.get(evaluation=evaluation, passed=False)
    assert (failed.obligation.metric, failed.explanation) == ("task_success_rate", "half wrong")
    assert outcome.failures == [
        {
            "obligation_id": obligations["task_success_rate"].pk,
            "metric": "task_success_rate",
            "value": 0.5,
            "comparator": "gte",
            "threshold": 0.9,
            "severity": "SEV2",
        }
    ]
    # two equally weighted evaluations at 100 % and 50 %
    assert Agent.objects.get(pk=agent.pk).current_score == 750
    assert outcome.score.previous_value == 1000


def test_results_may_name_obligations_by_id(agent, version, actor, obligations):
    results = [
        {"obligation": obligations["p95_latency"].pk, "value": 3},
        {"obligation": obligations["task_success_rate"].pk, "value": 0.95},
    ]
    outcome = submit(agent, version, actor, results=results)
    assert outcome.evaluation.verdict == Verdict.FAIL
    failed = outcome.evaluation.results.get(passed=False)
    assert failed.obligation == obligations["p95_latency"]


def test_the_digest_is_stored_in_lower_case(agent, version, actor):
    outcome = submit(agent, version, actor, evidence_sha256=f" {DIGEST.upper()} ")
    assert outcome.evaluation.evidence_sha256 == DIGEST


def test_an_older_evaluation_does_not_move_the_freshness_clock_back(agent, version, actor):
    recent = submit(agent, version, actor)
    long_ago = timezone.now() - timedelta(days=3)
    submit(agent, version, actor, started_at=long_ago, completed_at=long_ago)
    stored = Agent.objects.get(pk=agent.pk)
    assert stored.last_evaluated_at == recent.evaluation.completed_at
    assert stored.evaluation_due_at == recent.evaluation.completed_at + WINDOW


def test_completion_a_little_ahead_of_the_clock_is_tolerated(agent, version, actor):
    ahead = timezone.now() + timedelta(minutes=4)
    outcome = submit(agent, version, actor, started_at=ahead, completed_at=ahead)
    assert outcome.evaluation.completed_at == ahead


# --- refusals ---------------------------------------------------------------------------------


def test_completed_before_started_is_refused_and_writes_nothing(agent, version, actor):
    now = timezone.now()
    with refused(ValidationFailed, field="completed_at"):
        submit(agent, version, actor, started_at=now, completed_at=now - timedelta(seconds=1))


def test_completed_in_the_future_is_refused_and_writes_nothing(agent, version, actor):
    later = timezone.now() + timedelta(hours=1)
    with refused(ValidationFailed, field="completed_at"):
        submit(agent, version, actor, started_at=later - timedelta(minutes=5), completed_at=later)


@pytest.mark.parametrize("field", ["started_at", "completed_at"])
def test_times_without_a_timezone_are_refused(agent, version, actor, field):
    with refused(ValidationFailed, field=field):
        submit(agent, version, actor, **{field: datetime(2025, 1, 1, 12, 0)})


@pytest.mark.parametrize("field", ["started_at", "completed_at"])
def test_times_that_are_not_datetimes_are_refused(agent, version, actor, field):
    with refused(ValidationFailed, field=field):
        submit(agent, version, actor, **{field: "2025-01-01T12:00:00Z"})


@pytest.mark.parametrize("ref", ["hallucination_rate", 0, True, None])
def test_a_result_for_an_obligation_not_in_the_version_is_refused(agent, version, actor, ref):
    with refused(ValidationFailed, field="results[1].obligation"):
        submit(
            agent,
            version,
            actor,
            results=[{"obligation": "p95_latency", "value": 1}, {"obligation": ref, "value": 1}],
        )


def test_a_result_for_another_versions_obligation_is_refused(agent, version, actor):
    stranger = ObligationFactory(metric="p95_latency")
    with refused(ValidationFailed, field="results[0].obligation"):
        submit(agent, version, actor, results=[{"obligation": stranger.pk, "value": 1}])


def test_two_results_for_one_obligation_are_refused(agent, version, actor, obligations):
    results = [
        {"obligation": "p95_latency", "value": 1},
        {"obligation": obligations["p95_latency"].pk, "value": 2},
    ]
    with refused(ValidationFailed, field="results[1].obligation"):
        submit(agent, version, actor, results=results)


@pytest.mark.parametrize(
    "digest",
    [
        "abc123",
        DIGEST[:-1],
        DIGEST + "0",
        "g" * 64,
        f"sha256:{DIGEST}",
        DIGEST[:32] + " " + DIGEST[33:],
    ],
)
def test_a_malformed_digest_is_refused(agent, version, actor, digest):
    with refused(ValidationFailed, field="evidence_sha256"):
        submit(agent, version, actor, evidence_sha256=digest, evidence_uri="s3://e/1")


def test_evidence_without_a_digest_is_refused(agent, version, actor):
    with refused(ValidationFailed, field="evidence_sha256"):
        submit(agent, version, actor, evidence_uri="s3://evidence/run-1.json")


@pytest.mark.parametrize("kind", ["oracle", "", "HUMAN", None])
def test_an_unknown_evaluator_kind_is_refused(agent, version, actor, kind):
    with refused(ValidationFailed, field="evaluator_kind"):
        submit(agent, version, actor, evaluator_kind=kind)


def test_an_evaluation_without_an_evaluator_is_refused(agent, version, actor):
    with refused(ValidationFailed, field="evaluator"):
        submit(agent, version, actor, evaluator="")


def test_an_evaluation_against_a_draft_version_is_refused(agent, actor, version):
    draft = PactVersionFactory(pact=version.pact, state=PactVersionState.DRAFT, published_at=None)
    with refused(ValidationFailed, field="pact_version"):
        submit(agent, draft, actor, results=[{"obligation": "task_success_rate", "value": 1}])


def test_an_evaluation_of_an_agent_not_holding_the_pact_is_refused(agent, actor):
    other = PactVersionFactory()
    with refused(ValidationFailed, field="pact_version"):
        submit(agent, other, actor, results=[{"obligation": "task_success_rate", "value": 1}])


def test_an_evaluation_of_an_agent_without_a_pact_is_refused(version, actor):
    bare = AgentFactory(pact_version=None)
    with refused(ValidationFailed, field="pact_version"):
        submit(bare, version, actor)


@pytest.mark.parametrize(
    "value", [1.2, -0.1, float("nan"), float("inf"), "fast", None, [0.5]], ids=repr
)
def test_a_ratio_value_impossible_for_its_unit_is_refused(agent, version, actor, value):
    with refused(ValidationFailed, field="results[0].value"):
        submit(agent, version, actor, results=[{"obligation": "task_success_rate", "value": value}])


def test_a_negative_duration_is_refused(agent, version, actor):
    with refused(ValidationFailed, field="results[1].value"):
        submit(
            agent,
            version,
            actor,
            results=[
                {"obligation": "task_success_rate", "value": 1},
                {"obligation": "p95_latency", "value": -0.5},
            ],
        )


def test_an_evaluation_that_leaves_out_an_obligation_is_refused(agent, version, actor):
    with refused(ValidationFailed, field="results") as info:
        submit(agent, version, actor, results=[{"obligation": "p95_latency", "value": 0}])
    assert "task_success_rate" in info.value.message
    assert "p95_latency" not in info.value.message
    assert not Evaluation.objects.exists()
    assert Agent.objects.get(pk=agent.pk).last_evaluated_at is None


def test_a_refusal_for_missing_obligations_names_every_one(actor):
    version = PactVersionFactory()
    for metric in ("p95_latency", "refusal_rate"):
        ObligationFactory(pact_version=version, metric=metric)
    agent = AgentFactory(pact_version=version)
    with refused(ValidationFailed, field="results") as info:
        submit(agent, version, actor, results=[{"obligation": "task_success_rate", "value": 0.95}])
    assert "p95_latency, refusal_rate" in info.value.message


def test_a_failing_result_does_not_excuse_the_missing_ones(agent, version, actor):
    with refused(ValidationFailed, field="results") as info:
        submit(agent, version, actor, results=[{"obligation": "task_success_rate", "value": 0.1}])
    assert "p95_latency" in info.value.message


def test_an_evaluation_without_results_is_refused(agent, version, actor):
    with refused(ValidationFailed, field="results"):
        submit(agent, version, actor, results=[])


@pytest.mark.parametrize("item", ["task_success_rate", 0.9, None])
def test_a_result_that_is_not_an_object_is_refused(agent, version, actor, item):
    with refused(ValidationFailed, field="results[0]"):
        submit(agent, version, actor, results=[item])


@pytest.mark.parametrize(
    ("field", "value"),
    [("trace_url", "https://t.example.com/" + "x" * 500), ("evidence_uri", "s3://" + "x" * 500)],
)
def test_links_longer_than_the_column_are_refused(agent, version, actor, field, value):
    with refused(ValidationFailed, field=field):
        submit(agent, version, actor, evidence_sha256=DIGEST, **{field: value})
