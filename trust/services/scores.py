"""Computing and recording an agent's trust score."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from trust import handoff, scoring
from trust.choices import DisputeOutcome
from trust.models import Agent, Dispute, Evaluation, Score

DEFAULT_WINDOW = timedelta(days=7)


@transaction.atomic
def score_recompute(
    *, agent: Agent, reason: str, actor=None, now=None, lock: bool = True
) -> Score | None:
    """Compute the agent's score from its evidence and record it (see ``trust.scoring``).

    Writes a ``Score`` row, updates the agent's read fields and announces the change
    through the trust hand-off (escalations turns a large drop into a signal). An
    agent without evaluations gets no score.
    """
    now = now or timezone.now()
    if lock:
        agent = (
            Agent.objects.select_for_update(of=("self",))
            .select_related("pact_version")
            .get(pk=agent.pk)
        )
    evidence = [
        scoring.EvaluationEvidence(
            completed_at=row["completed_at"],
            passed=row["passed_count"],
            failed=row["failed_count"],
            independent=row["independent"],
        )
        for row in Evaluation.objects.filter(agent_id=agent.pk)
        .order_by("-completed_at", "-id")
        .values("completed_at", "passed_count", "failed_count", "independent")[
            : scoring.MAX_EVALUATIONS
        ]
    ]
    lost = Dispute.objects.filter(
        agent_id=agent.pk,
        outcome=DisputeOutcome.AGAINST_AGENT,
        resolved_at__gte=now - scoring.DISPUTE_LOOKBACK,
    ).count()
    window = agent.pact_version.freshness_window if agent.pact_version_id else DEFAULT_WINDOW
    result = scoring.compute_score(
        evaluations=evidence,
        window=window,
        open_incidents=agent.open_incident_count,
        lost_disputes=lost,
        now=now,
    )
    if result is None:
        return None
    previous = agent.current_score
    score = Score.objects.create(
        agent_id=agent.pk,
        value=result.value,
        previous_value=previous,
        computed_at=now,
        components=result.components,
        reason=reason[:200],
    )
    Agent.objects.filter(pk=agent.pk).update(
        current_score=result.value, score_at=now, updated_at=now
    )
    agent.current_score, agent.score_at = result.value, now
    if previous is not None and previous != result.value:
        handoff.announce(
            handoff.EvidenceEvent(
                kind=handoff.SCORE_CHANGED,
                agent_id=agent.pk,
                observed_at=now,
                source_key=f"score:{score.pk}",
                pact_id=agent.pact_version.pact_id if agent.pact_version_id else None,
                actor_id=getattr(actor, "pk", None),
                data={"previous": previous, "current": result.value, "score_id": score.pk},
            )
        )
    return score
