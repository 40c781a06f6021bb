"""The obligation maths and the trust score: pure functions, no database."""

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trust import scoring
from trust.choices import Comparator, MetricUnit
from trust.scoring import (
    EvaluationEvidence,
    compute_score,
    dispute_penalty,
    evidence_rate,
    incident_penalty,
    obligation_passes,
    recency_weight,
    staleness_factor,
    threshold_problem,
    value_problem,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
NAN = float("nan")
INF = float("inf")


def evidence(*, age=timedelta(0), passed=1, failed=0, independent=True):
    return EvaluationEvidence(
        completed_at=NOW - age, passed=passed, failed=failed, independent=independent
    )


# --- obligation_passes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("comparator", "value", "expected"),
    [
        (Comparator.GTE, 0.9, True),
        (Comparator.GTE, 0.95, True),
        (Comparator.GTE, 0.85, False),
        (Comparator.GT, 0.9, False),
        (Comparator.GT, 0.95, True),
        (Comparator.GT, 0.85, False),
        (Comparator.LTE, 0.9, True),
        (Comparator.LTE, 0.95, False),
        (Comparator.LTE, 0.85, True),
        (Comparator.LT, 0.9, False),
        (Comparator.LT, 0.95, False),
        (Comparator.LT, 0.85, True),
        (Comparator.EQ, 0.9, True),
        (Comparator.EQ, 0.95, False),
        (Comparator.EQ, 0.85, False),
    ],
    ids=lambda p: str(p),
)
def test_obligation_passes_at_above_and_below_the_threshold(comparator, value, expected):
    assert obligation_passes(comparator=comparator, threshold=0.9, value=value) is expected


@pytest.mark.parametrize("comparator", Comparator.values)
def test_obligation_never_passes_on_nan(comparator):
    assert obligation_passes(comparator=comparator, threshold=0.9, value=NAN) is False


def test_equality_tolerates_floating_point_noise_only():
    assert obligation_passes(comparator=Comparator.EQ, threshold=0.3, value=0.1 + 0.2)
    assert not obligation_passes(comparator=Comparator.EQ, threshold=0.3, value=0.3 + 1e-6)


@pytest.mark.parametrize(
    ("comparator", "value", "expected"),
    [
        (Comparator.LTE, 0.0, True),
        (Comparator.LTE, 1.0, False),
        (Comparator.GT, 0.0, False),
        (Comparator.GT, 1.0, True),
    ],
)
def test_obligation_on_a_zero_threshold(comparator, value, expected):
    assert obligation_passes(comparator=comparator, threshold=0.0, value=value) is expected


def test_unknown_comparator_is_an_error():
    with pytest.raises(ValueError, match="Unknown comparator"):
        obligation_passes(comparator="between", threshold=0.9, value=0.9)


# --- threshold_problem -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "comparator", "threshold", "problem"),
    [
        # ratio: [0, 1]
        (MetricUnit.RATIO, Comparator.GTE, -0.1, "never below"),
        (MetricUnit.RATIO, Comparator.LTE, 1.1, "never above"),
        (MetricUnit.RATIO, Comparator.LT, 0.0, "could never pass"),
        (MetricUnit.RATIO, Comparator.GTE, 0.0, "could never fail"),
        (MetricUnit.RATIO, Comparator.GT, 1.0, "could never pass"),
        (MetricUnit.RATIO, Comparator.LTE, 1.0, "could never fail"),
        (MetricUnit.RATIO, Comparator.GT, 0.0, None),
        (MetricUnit.RATIO, Comparator.LTE, 0.0, None),
        (MetricUnit.RATIO, Comparator.EQ, 0.0, None),
        (MetricUnit.RATIO, Comparator.GTE, 1.0, None),
        (MetricUnit.RATIO, Comparator.LT, 1.0, None),
        (MetricUnit.RATIO, Comparator.EQ, 1.0, None),
        (MetricUnit.RATIO, Comparator.GTE, 0.5, None),
        # count: [0, ∞)
        (MetricUnit.COUNT, Comparator.LTE, -1.0, "never below"),
        (MetricUnit.COUNT, Comparator.LT, 0.0, "could never pass"),
        (MetricUnit.COUNT, Comparator.GTE, 0.0, "could never fail"),
        (MetricUnit.COUNT, Comparator.LTE, 0.0, None),
        (MetricUnit.COUNT, Comparator.GT, 0.0, None),
        (MetricUnit.COUNT, Comparator.LTE, 1_000_000.0, None),
        # seconds: [0, ∞)
        (MetricUnit.SECONDS, Comparator.LTE, -0.5, "never below"),
        (MetricUnit.SECONDS, Comparator.LT, 0.0, "could never pass"),
        (MetricUnit.SECONDS, Comparator.GTE, 0.0, "could never fail"),
        (MetricUnit.SECONDS, Comparator.LT, 2.5, None),
        (MetricUnit.SECONDS, Comparator.GT, 86_400.0, None),
        # score: any real number
        (MetricUnit.SCORE, Comparator.GTE, -5.0, None),
        (MetricUnit.SCORE, Comparator.LT, 0.0, None),
        (MetricUnit.SCORE, Comparator.GTE, 0.0, None),
        (MetricUnit.SCORE, Comparator.GT, 1e9, None),
    ],
    ids=lambda p: str(p),
)
def test_threshold_problem_for_each_unit_and_boundary(unit, comparator, threshold, problem):
    found = threshold_problem(comparator=comparator, threshold=threshold, unit=unit)
    if problem is None:
        assert found is None
    else:
        assert problem in found


@pytest.mark.parametrize("unit", MetricUnit.values)
@pytest.mark.parametrize("threshold", [NAN, INF, -INF])
def test_threshold_must_be_finite_for_every_unit(unit, threshold):
    found = threshold_problem(comparator=Comparator.GTE, threshold=threshold, unit=unit)
    assert found == "The threshold must be a finite number."


def test_threshold_problem_names_an_unknown_comparator():
    found = threshold_problem(comparator="between", threshold=0.5, unit=MetricUnit.RATIO)
    assert "Unknown comparator" in found


@pytest.mark.parametrize("threshold", ["0.5", None, True])
def test_threshold_that_is_not_a_number_is_a_problem_not_a_crash(threshold):
    found = threshold_problem(comparator=Comparator.GTE, threshold=threshold, unit="ratio")
    assert found == "The threshold must be a number."


# --- value_problem ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "value", "bad"),
    [
        (MetricUnit.RATIO, -0.01, True),
        (MetricUnit.RATIO, 1.01, True),
        (MetricUnit.RATIO, 0.0, False),
        (MetricUnit.RATIO, 1.0, False),
        (MetricUnit.RATIO, 0.42, False),
        (MetricUnit.COUNT, -1.0, True),
        (MetricUnit.COUNT, 0.0, False),
        (MetricUnit.COUNT, 12.0, False),
        (MetricUnit.SECONDS, -0.5, True),
        (MetricUnit.SECONDS, 0.0, False),
        (MetricUnit.SECONDS, 3600.0, False),
        (MetricUnit.SCORE, -100.0, False),
        (MetricUnit.SCORE, 1e12, False),
    ],
    ids=lambda p: str(p),
)
def test_value_problem_for_each_unit(unit, value, bad):
    assert (value_problem(unit=unit, value=value) is not None) is bad


@pytest.mark.parametrize("unit", MetricUnit.values)
@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_value_must_be_finite_for_every_unit(unit, value):
    assert value_problem(unit=unit, value=value) == "The value must be a finite number."


@pytest.mark.parametrize("value", ["0.5", None, False])
def test_value_that_is_not_a_number_is_a_problem_not_a_crash(value):
    assert value_problem(unit=MetricUnit.SCORE, value=value) == "The value must be a number."


def test_decimal_values_and_thresholds_are_numbers():
    assert value_problem(unit=MetricUnit.RATIO, value=Decimal("0.5")) is None
    found = threshold_problem(comparator=Comparator.GTE, threshold=Decimal("0.5"), unit="ratio")
    assert found is None


# --- recency and evidence --------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "weight"),
    [
        (timedelta(0), 1.0),
        (timedelta(days=15), math.sqrt(0.5)),
        (timedelta(days=30), 0.5),
        (timedelta(days=60), 0.25),
        (timedelta(days=-3), 1.0),  # a timestamp slightly in the future counts as now
    ],
)
def test_recency_weight_halves_every_thirty_days(age, weight):
    assert recency_weight(age) == pytest.approx(weight)


def test_evidence_rate_of_no_evaluations_is_zero():
    assert evidence_rate([], now=NOW) == 0.0


def test_evidence_rate_is_the_plain_mean_for_equal_weights():
    rate = evidence_rate([evidence(passed=3, failed=1), evidence(passed=1, failed=1)], now=NOW)
    assert rate == pytest.approx((0.75 + 0.5) / 2)


def test_evidence_rate_counts_a_self_assessment_at_six_tenths():
    rate = evidence_rate(
        [
            evidence(passed=1, failed=0, independent=True),
            evidence(passed=0, failed=1, independent=False),
        ],
        now=NOW,
    )
    assert rate == pytest.approx(1.0 / (1.0 + scoring.DEPENDENT_EVALUATOR_WEIGHT))


def test_evidence_rate_counts_a_month_old_result_half():
    rate = evidence_rate(
        [evidence(passed=1, failed=0), evidence(age=timedelta(days=30), passed=0, failed=1)],
        now=NOW,
    )
    assert rate == pytest.approx(1.0 / 1.5)


def test_evidence_rate_uses_only_the_newest_twenty_evaluations():
    recent = [evidence(age=timedelta(hours=i), passed=1, failed=0) for i in range(20)]
    old_failure = evidence(age=timedelta(days=2), passed=0, failed=1)
    assert evidence_rate([old_failure, *recent], now=NOW) == pytest.approx(1.0)
    assert evidence_rate([old_failure, *recent[:19]], now=NOW) < 1.0


def test_evaluation_without_results_counts_as_failed():
    assert EvaluationEvidence(completed_at=NOW, passed=0, failed=0, independent=True).pass_rate == 0


# --- staleness -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "factor"),
    [
        (timedelta(0), 1.0),
        (timedelta(days=3), 1.0),
        (timedelta(days=7), 1.0),  # exactly at the end of the window: still fresh
        (timedelta(days=7, hours=84), math.sqrt(0.5)),
        (timedelta(days=14), 0.5),
        (timedelta(days=21), 0.25),
        (timedelta(days=-1), 1.0),
    ],
)
def test_staleness_is_one_within_the_window_then_halves_per_window(since, factor):
    result = staleness_factor(last_evaluated_at=NOW - since, window=7 * DAY, now=NOW)
    assert result == pytest.approx(factor)


# --- penalties -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "penalty"), [(-1, 0), (0, 0), (1, 60), (4, 240), (5, 300), (6, 300), (50, 300)]
)
def test_incident_penalty_is_sixty_each_capped_at_three_hundred(count, penalty):
    assert incident_penalty(count) == penalty


@pytest.mark.parametrize(
    ("count", "penalty"), [(-1, 0), (0, 0), (1, 100), (2, 200), (3, 300), (4, 300)]
)
def test_dispute_penalty_is_a_hundred_each_capped_at_three_hundred(count, penalty):
    assert dispute_penalty(count) == penalty


# --- compute_score ---------------------------------------------------------------------


def score(evaluations, *, window=7 * DAY, open_incidents=0, lost_disputes=0, now=NOW):
    return compute_score(
        evaluations=evaluations,
        window=window,
        open_incidents=open_incidents,
        lost_disputes=lost_disputes,
        now=now,
    )


def test_no_evaluations_means_no_score():
    assert score([]) is None
    assert score([], open_incidents=3, lost_disputes=2) is None


def test_fresh_clean_evidence_scores_a_thousand():
    result = score([evidence(), evidence(age=DAY, independent=False)])
    assert result.value == 1000


def test_score_is_clamped_at_zero():
    result = score([evidence(passed=1, failed=3)], open_incidents=10, lost_disputes=10)
    assert result.value == 0
    assert result.components["incident_penalty"] == 300
    assert result.components["dispute_penalty"] == 300


def test_score_never_exceeds_a_thousand_even_with_evidence_from_the_future():
    result = score([evidence(age=-timedelta(minutes=4))], open_incidents=-2, lost_disputes=-1)
    assert result.value == 1000


def test_score_follows_the_documented_formula_on_a_worked_example():
    """Two evaluations, a stale agent, two open incidents and one lost dispute.

    Evaluated 14 days after the newest evaluation, with a 7-day window:
      A: independent, 3 of 4 passed, 14 days old  → weight 0.5^(14/30)
      B: self-assessed, 1 of 2 passed, 44 days old → weight 0.6 · 0.5^(44/30)
    B's weight is 0.6 · 0.5 = 0.3 of A's, so evidence = (0.75 + 0.3 · 0.5) / 1.3 ≈ 0.6923;
    staleness = 0.5^(7/7) = 0.5; penalties = 2 · 60 + 1 · 100 = 220;
    score = round(1000 · 0.6923 · 0.5 − 220) = round(126.15) = 126.
    """
    now = NOW + 14 * DAY
    a = EvaluationEvidence(completed_at=NOW, passed=3, failed=1, independent=True)
    b = EvaluationEvidence(completed_at=NOW - 30 * DAY, passed=1, failed=1, independent=False)

    result = score([b, a], window=7 * DAY, open_incidents=2, lost_disputes=1, now=now)

    assert result.value == 126
    assert result.components == {
        "evidence_rate": round(0.9 / 1.3, 6),
        "evaluations_used": 2,
        "staleness_factor": 0.5,
        "incident_penalty": 120,
        "open_incidents": 2,
        "dispute_penalty": 100,
        "lost_disputes": 1,
        "last_evaluated_at": NOW.isoformat(),
    }


def test_score_components_report_at_most_twenty_evaluations_used():
    result = score([evidence(age=timedelta(hours=i)) for i in range(25)])
    assert result.components["evaluations_used"] == 20


def test_staleness_is_measured_from_the_newest_evaluation():
    old = evidence(age=30 * DAY, passed=1, failed=0)
    fresh = evidence(age=DAY, passed=1, failed=0)
    assert score([old, fresh]).components["staleness_factor"] == 1.0
    assert score([old]).components["staleness_factor"] < 1.0
