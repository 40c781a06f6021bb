"""Submitting evaluations: the evidence that an agent was checked against its pact."""

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from atoc.core.exceptions import ValidationFailed
from trust import handoff, scoring
from trust.choices import EvaluatorKind, Verdict
from trust.models import Agent, Evaluation, EvaluationResult, Obligation, PactVersion, Score
from trust.services.checks import require_aware, require_max_length
from trust.services.scores import score_recompute

CLOCK_SKEW = timedelta(minutes=5)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class EvaluationOutcome:
    """What a submission produced: the stored evaluation, its failures and the new score."""

    evaluation: Evaluation
    failures: list[dict] = field(default_factory=list)
    score: Score | None = None


def _resolve_obligation(ref, by_metric: dict, by_id: dict, index: int) -> Obligation:
    where = f"results[{index}].obligation"
    if isinstance(ref, bool):
        ref = None
    if isinstance(ref, int) and ref in by_id:
        return by_id[ref]
    if isinstance(ref, str) and ref in by_metric:
        return by_metric[ref]
    raise ValidationFailed(
        f"{ref!r} is not an obligation of this pact version "
        f"(expected one of: {', '.join(sorted(by_metric))}).",
        field=where,
    )


@transaction.atomic
def evaluation_submit(
    *,
    agent: Agent,
    pact_version: PactVersion,
    evaluator: str,
    evaluator_kind: str,
    started_at: datetime,
    completed_at: datetime,
    results: list[dict],
    actor,
    independent: bool = False,
    suite: str = "",
    evidence_uri: str = "",
    evidence_sha256: str = "",
    trace_url: str = "",
    now: datetime | None = None,
) -> EvaluationOutcome:
    """Store an evaluation, check every result against its obligation, and act on it.

    Each result is ``{"obligation": <metric name or id>, "value", "label",
    "explanation"}``, one for every obligation of the pact version (a submission that
    leaves one out is refused). The verdict is ``fail`` when any obligation fails. The agent's
    read fields and score are updated, and failures are announced through the trust
    hand-off (escalations opens ``pact_breach`` signals). All in one transaction.
    """
    now = now or timezone.now()
    # Re-read: the caller's copy may predate the version's publication.
    pact_version = PactVersion.objects.select_related("pact").get(pk=pact_version.pk)
    if not pact_version.is_published:
        raise ValidationFailed("Evaluate against a published pact version.", field="pact_version")
    agent = (
        Agent.objects.select_for_update(of=("self",))
        .select_related("pact_version")
        .get(pk=agent.pk)
    )
    if agent.pact_version_id is None or agent.pact_version.pact_id != pact_version.pact_id:
        raise ValidationFailed(
            f"Agent {agent.slug} does not hold pact {pact_version.pact.slug}.",
            field="pact_version",
        )
    if not evaluator:
        raise ValidationFailed("Name the evaluator.", field="evaluator")
    if evaluator_kind not in EvaluatorKind.values:
        raise ValidationFailed(
            f"Unknown evaluator kind {evaluator_kind!r}; use one of "
            f"{', '.join(EvaluatorKind.values)}.",
            field="evaluator_kind",
        )
    require_aware(started_at, field="started_at")
    require_aware(completed_at, field="completed_at")
    if completed_at < started_at:
        raise ValidationFailed("completed_at precedes started_at.", field="completed_at")
    if completed_at > now + CLOCK_SKEW:
        raise ValidationFailed("completed_at is in the future.", field="completed_at")
    sha = (evidence_sha256 or "").strip().lower()
    if sha and not _SHA256.match(sha):
        raise ValidationFailed(
            "Must be a SHA-256 digest: 64 hexadecimal characters.", field="evidence_sha256"
        )
    if evidence_uri and not sha:
        raise ValidationFailed(
            "Give the SHA-256 digest of the evidence at evidence_uri.", field="evidence_sha256"
        )
    require_max_length(trace_url or "", field="trace_url", limit=500)
    require_max_length(evidence_uri or "", field="evidence_uri", limit=500)
    if not results:
        raise ValidationFailed("An evaluation needs at least one result.", field="results")

    obligations = list(pact_version.obligations.all())
    by_metric = {o.metric: o for o in obligations}
    by_id = {o.pk: o for o in obligations}
    rows, failures, seen = [], [], set()
    for index, item in enumerate(results):
        if not isinstance(item, dict):
            raise ValidationFailed(
                "Each result must be an object with obligation and value.",
                field=f"results[{index}]",
            )
        obligation = _resolve_obligation(item.get("obligation"), by_metric, by_id, index)
        if obligation.pk in seen:
            raise ValidationFailed(
                f"Obligation {obligation.metric!r} has two results.",
                field=f"results[{index}].obligation",
            )
        seen.add(obligation.pk)
        try:
            raw = item.get("value")
            if isinstance(raw, bool):  # JSON true/false is not a measurement
                raise TypeError
            value = float(raw)
        except (TypeError, ValueError):
            raise ValidationFailed("Must be a number.", field=f"results[{index}].value") from None
        problem = scoring.value_problem(unit=obligation.unit, value=value)
        if problem or math.isnan(value):
            raise ValidationFailed(problem or "Not a number.", field=f"results[{index}].value")
        passed = scoring.obligation_passes(
            comparator=obligation.comparator, threshold=obligation.threshold, value=value
        )
        rows.append(
            EvaluationResult(
                obligation=obligation,
                value=value,
                label=str(item.get("label") or "")[:100],
                explanation=str(item.get("explanation") or ""),
                passed=passed,
            )
        )
        if not passed:
            failures.append(
                {
                    "obligation_id": obligation.pk,
                    "metric": obligation.metric,
                    "value": value,
                    "comparator": obligation.comparator,
                    "threshold": obligation.threshold,
                    "severity": obligation.breach_severity,
                }
            )
    missing = [o.metric for o in obligations if o.pk not in seen]
    if missing:
        # A verdict over part of the pact would pass an agent on evidence nobody gave.
        raise ValidationFailed(
            "Report a result for every obligation of this pact version; missing: "
            f"{', '.join(sorted(missing))}.",
            field="results",
        )

    evaluation = Evaluation(
        agent=agent,
        pact_version=pact_version,
        evaluator=evaluator[:200],
        evaluator_kind=evaluator_kind,
        independent=bool(independent),
        suite=suite[:200],
        started_at=started_at,
        completed_at=completed_at,
        verdict=Verdict.FAIL if failures else Verdict.PASS,
        passed_count=len(rows) - len(failures),
        failed_count=len(failures),
        trace_url=trace_url,
        evidence_uri=evidence_uri,
        evidence_sha256=sha,
        submitted_by=actor,
        created_at=now,
    )
    evaluation.save()
    for row in rows:
        row.evaluation = evaluation
    EvaluationResult.objects.bulk_create(rows)

    last = max(filter(None, [agent.last_evaluated_at, completed_at]))
    Agent.objects.filter(pk=agent.pk).update(
        last_evaluated_at=last,
        evaluation_due_at=last + agent.pact_version.freshness_window,
        updated_at=now,
    )
    agent.last_evaluated_at = last
    score = score_recompute(
        agent=agent,
        actor=actor,
        now=now,
        lock=False,
        reason=f"Evaluation #{evaluation.pk} ({evaluation.verdict})",
    )
    if failures:
        handoff.announce(
            handoff.EvidenceEvent(
                kind=handoff.OBLIGATION_BREACHED,
                agent_id=agent.pk,
                observed_at=completed_at,
                source_key=f"evaluation:{evaluation.pk}",
                pact_id=pact_version.pact_id,
                actor_id=actor.pk,
                data={"evaluation_id": evaluation.pk, "failures": failures},
            )
        )
    return EvaluationOutcome(evaluation=evaluation, failures=failures, score=score)
