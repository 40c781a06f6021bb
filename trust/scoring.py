"""Pure functions of the trust domain: obligation checks and the trust score.

Nothing here touches the database, so every rule is tested with plain values.

The trust score (0–1000)
------------------------
The score says how far the agent's recent evidence supports trusting it now::

    evidence   = Σ wᵢ · pass_rateᵢ / Σ wᵢ          over the newest evaluations (at most 20)
    wᵢ         = 0.5 ^ (ageᵢ / 30 days)            recency: a month-old result counts half
                 × (1.0 if independent else 0.6)    independence: self-assessment counts less
    base       = 1000 · evidence
    staleness  = 1                                  while the newest evaluation is within the window
               = 0.5 ^ (overdue / window)           after: halves for each further window
    penalties  = min(300, 60 · open incidents)      unresolved trust incidents
               + min(300, 100 · disputes lost in the last 180 days)
    score      = clamp(round(base · staleness − penalties), 0, 1000)

An agent with no evaluation has no score. ``compute_score`` returns the value
with every partial result, which is stored on the ``Score`` row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from trust.choices import Comparator, MetricUnit

RECENCY_HALF_LIFE = timedelta(days=30)
DEPENDENT_EVALUATOR_WEIGHT = 0.6
MAX_EVALUATIONS = 20
INCIDENT_PENALTY = 60
INCIDENT_PENALTY_CAP = 300
DISPUTE_PENALTY = 100
DISPUTE_PENALTY_CAP = 300
DISPUTE_LOOKBACK = timedelta(days=180)
EQ_TOLERANCE = 1e-9


# --- obligations --------------------------------------------------------------


def obligation_passes(*, comparator: str, threshold: float, value: float) -> bool:
    """Whether a measured ``value`` meets ``comparator threshold``."""
    if math.isnan(value):
        return False
    if comparator == Comparator.GTE:
        return value >= threshold
    if comparator == Comparator.GT:
        return value > threshold
    if comparator == Comparator.LTE:
        return value <= threshold
    if comparator == Comparator.LT:
        return value < threshold
    if comparator == Comparator.EQ:
        return abs(value - threshold) <= EQ_TOLERANCE
    raise ValueError(f"Unknown comparator {comparator!r}")


def threshold_problem(*, comparator: str, threshold: float, unit: str) -> str | None:
    """Explain why a threshold cannot work with its comparator and unit, or None.

    A ratio lies in [0, 1], counts and durations are never negative: a threshold
    outside the range, or one that every possible value passes or fails, is not an
    obligation anyone can meet or breach.
    """
    if comparator not in Comparator.values:
        return f"Unknown comparator {comparator!r}."
    if not _is_number(threshold):
        return "The threshold must be a number."
    if not math.isfinite(threshold):
        return "The threshold must be a finite number."
    lower = 0.0 if unit in (MetricUnit.RATIO, MetricUnit.COUNT, MetricUnit.SECONDS) else None
    upper = 1.0 if unit == MetricUnit.RATIO else None
    if lower is not None and threshold < lower:
        return f"A {unit} is never below {lower:g}; a threshold of {threshold:g} cannot be used."
    if upper is not None and threshold > upper:
        return f"A {unit} is never above {upper:g}; a threshold of {threshold:g} cannot be used."
    if lower is not None and threshold == lower:
        if comparator == Comparator.LT:
            return f"No {unit} is less than {lower:g}: this obligation could never pass."
        if comparator == Comparator.GTE:
            return f"Every {unit} is at least {lower:g}: this obligation could never fail."
    if upper is not None and threshold == upper:
        if comparator == Comparator.GT:
            return f"No {unit} is more than {upper:g}: this obligation could never pass."
        if comparator == Comparator.LTE:
            return f"Every {unit} is at most {upper:g}: this obligation could never fail."
    return None


def value_problem(*, unit: str, value: float) -> str | None:
    """Explain why a measured value is impossible for its unit, or None."""
    if not _is_number(value):
        return "The value must be a number."
    if not math.isfinite(value):
        return "The value must be a finite number."
    if unit == MetricUnit.RATIO and not 0.0 <= value <= 1.0:
        return f"A ratio lies between 0 and 1, not {value:g}."
    if unit in (MetricUnit.COUNT, MetricUnit.SECONDS) and value < 0:
        return f"A {unit} value cannot be negative ({value:g})."
    return None


def _is_number(value) -> bool:
    # bool is an int subclass, but True is not a measurement.
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


# --- the score ------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationEvidence:
    """What the score needs to know about one evaluation."""

    completed_at: datetime
    passed: int
    failed: int
    independent: bool

    @property
    def pass_rate(self) -> float:
        total = self.passed + self.failed
        return self.passed / total if total else 0.0


@dataclass(frozen=True)
class ScoreResult:
    value: int
    components: dict


def recency_weight(age: timedelta) -> float:
    """0.5 ^ (age / half-life); future timestamps count as now."""
    age_s = max(age.total_seconds(), 0.0)
    return 0.5 ** (age_s / RECENCY_HALF_LIFE.total_seconds())


def evidence_rate(evaluations: list[EvaluationEvidence], *, now: datetime) -> float:
    """Recency- and independence-weighted mean pass rate of the newest evaluations."""
    newest = sorted(evaluations, key=lambda e: e.completed_at, reverse=True)[:MAX_EVALUATIONS]
    weighted = total = 0.0
    for ev in newest:
        weight = recency_weight(now - ev.completed_at) * (
            1.0 if ev.independent else DEPENDENT_EVALUATOR_WEIGHT
        )
        weighted += weight * ev.pass_rate
        total += weight
    return weighted / total if total else 0.0


def staleness_factor(*, last_evaluated_at: datetime, window: timedelta, now: datetime) -> float:
    """1 within the freshness window, then halved for each further window overdue."""
    overdue = (now - last_evaluated_at) - window
    if overdue <= timedelta(0):
        return 1.0
    return 0.5 ** (overdue.total_seconds() / window.total_seconds())


def incident_penalty(open_incidents: int) -> int:
    return min(INCIDENT_PENALTY_CAP, INCIDENT_PENALTY * max(open_incidents, 0))


def dispute_penalty(lost_disputes: int) -> int:
    return min(DISPUTE_PENALTY_CAP, DISPUTE_PENALTY * max(lost_disputes, 0))


def compute_score(
    *,
    evaluations: list[EvaluationEvidence],
    window: timedelta,
    open_incidents: int,
    lost_disputes: int,
    now: datetime,
) -> ScoreResult | None:
    """The agent's trust score from its evidence (see the module docstring), or None."""
    if not evaluations:
        return None
    last = max(e.completed_at for e in evaluations)
    rate = evidence_rate(evaluations, now=now)
    stale = staleness_factor(last_evaluated_at=last, window=window, now=now)
    inc = incident_penalty(open_incidents)
    disp = dispute_penalty(lost_disputes)
    raw = 1000 * rate * stale - inc - disp
    value = max(0, min(1000, round(raw)))
    return ScoreResult(
        value=value,
        components={
            "evidence_rate": round(rate, 6),
            "evaluations_used": min(len(evaluations), MAX_EVALUATIONS),
            "staleness_factor": round(stale, 6),
            "incident_penalty": inc,
            "open_incidents": open_incidents,
            "dispute_penalty": disp,
            "lost_disputes": lost_disputes,
            "last_evaluated_at": last.isoformat(),
        },
    )
