"""Fleet reviews: opening them on each tier's cadence, covering agents, findings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from atoc.center.access import authorize
from atoc.center.choices import FleetReviewState
from atoc.center.models import FleetReview, FleetReviewAgent, SystemicIssue
from atoc.center.services.locks import job_lock
from atoc.core.exceptions import InvalidTransition, ValidationFailed
from atoc.core.history import get_system_user, mark_history, save_with_history
from trust.choices import AgentStatus
from trust.models import Agent

PERMISSION = "center.change_fleetreview"
TIERS = (1, 2, 3)


def tier_cadence(tier: int) -> timedelta:
    """How often the fleet review of a tier comes round (``ATOC_FLEET_REVIEW_CADENCE_DAYS``)."""
    return timedelta(days=int(settings.ATOC_FLEET_REVIEW_CADENCE_DAYS[tier]))


@transaction.atomic
def fleet_reviews_schedule(*, now: datetime | None = None) -> list[int]:
    """Open the review of every tier that has none open and whose cadence came round.

    A tier's next review is due one cadence after the last one was due (at once
    when it never had one). Returns the ids of the reviews opened; a second run
    opens nothing (one open review per tier, one review per tier and day).
    """
    now = now or timezone.now()
    today = now.date()
    job_lock("center.schedule_reviews")
    opened = []
    open_tiers = set(
        FleetReview.objects.filter(state=FleetReviewState.OPEN).values_list("tier", flat=True)
    )
    last_due = _last_due()
    for tier in TIERS:
        if tier in open_tiers:
            continue
        cadence = tier_cadence(tier)
        due = last_due.get(tier)
        if due is not None and due + cadence > today:
            continue
        review = FleetReview(tier=tier, due_on=today, cadence=cadence)
        try:
            with transaction.atomic():
                save_with_history(
                    review, actor=get_system_user(), reason="Scheduled on the tier's cadence"
                )
        except IntegrityError:
            continue
        opened.append(review.pk)
    return opened


def _last_due() -> dict[int, object]:
    """When each tier's latest review was due (reviews are few: a handful a month)."""
    last = {}
    for tier, due in FleetReview.objects.order_by("tier", "due_on").values_list("tier", "due_on"):
        last[tier] = due
    return last


def _lock_open(review: FleetReview) -> FleetReview:
    review = FleetReview.objects.select_for_update().get(pk=review.pk)
    if review.state != FleetReviewState.OPEN:
        raise InvalidTransition(
            f"The {review} is completed; open a new review instead.", field="state"
        )
    return review


@transaction.atomic
def review_mark_agents(
    *, review: FleetReview, agents: Iterable[Agent], actor, note: str = ""
) -> int:
    """Mark agents reviewed in an open review; return how many were new.

    Agents must be of the review's tier (and the operator's teams). An agent
    already covered by this review is left alone. Review coverage counts these rows.
    """
    review = _lock_open(review)
    rows = list(
        Agent.objects.filter(pk__in=[a.pk for a in agents]).values_list(
            "pk", "slug", "tier", "team_id", "status"
        )
    )
    if not rows:
        raise ValidationFailed("Choose at least one agent to mark reviewed.", field="agents")
    authorize(
        actor,
        permission=PERMISSION,
        team_ids={team_id for _, _, _, team_id, _ in rows},
        what=f"mark agents reviewed in the {review}",
    )
    for _, slug, tier, _, status in rows:
        if tier != review.tier:
            raise ValidationFailed(
                f"Agent {slug} is tier {tier}; this review covers tier {review.tier}.",
                field="agents",
            )
        if status == AgentStatus.RETIRED:
            raise ValidationFailed(f"Agent {slug} is retired.", field="agents")
    done = set(FleetReviewAgent.objects.filter(review=review).values_list("agent_id", flat=True))
    now = timezone.now()
    new = [
        FleetReviewAgent(
            review=review, agent_id=pk, reviewed_at=now, reviewed_by=actor, note=note.strip()
        )
        for pk, *_ in sorted(rows)
        if pk not in done
    ]
    FleetReviewAgent.objects.bulk_create(new)
    if new:
        names = ", ".join(slug for pk, slug, *_ in sorted(rows) if pk not in done)
        save_with_history(
            review,
            actor=actor,
            reason=f"Reviewed: {names}",
            update_fields=["findings"],
        )
    return len(new)


@transaction.atomic
def review_record_findings(
    *,
    review: FleetReview,
    actor,
    findings: str,
    actions_agreed: str = "",
    systemic_issues: Iterable[SystemicIssue] | None = None,
) -> FleetReview:
    """Record the findings, the actions agreed and the systemic issues raised."""
    authorize(actor, permission=PERMISSION, what=f"record findings of the {review}")
    review = _lock_open(review)
    review.findings = (findings or "").strip()
    review.actions_agreed = (actions_agreed or "").strip()
    save_with_history(
        review,
        actor=actor,
        reason="Findings recorded",
        update_fields=["findings", "actions_agreed"],
    )
    if systemic_issues is not None:
        wanted = {issue.pk for issue in systemic_issues}
        if wanted != set(review.systemic_issues.values_list("pk", flat=True)):
            mark_history(review, actor=actor, reason="Systemic issues raised")
            review.systemic_issues.set(wanted)
    return review


@transaction.atomic
def review_complete(*, review: FleetReview, actor, note: str = "") -> FleetReview:
    """Complete an open review (completing it again is a no-op)."""
    authorize(actor, permission=PERMISSION, what=f"complete the {review}")
    current = FleetReview.objects.select_for_update().get(pk=review.pk)
    if current.state == FleetReviewState.COMPLETED:
        return current
    current.state = FleetReviewState.COMPLETED
    current.completed_at = timezone.now()
    current.completed_by = actor
    return save_with_history(
        current,
        actor=actor,
        reason=note or "Review completed",
        update_fields=["state", "completed_at", "completed_by"],
    )
