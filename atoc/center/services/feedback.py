"""Feedback: whether an incident's handling, a decision or a review was useful and credible."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from atoc.center.access import authorize
from atoc.center.choices import FeedbackSubject
from atoc.center.models import Feedback, FleetReview
from atoc.core.exceptions import ValidationFailed
from atoc.core.history import save_with_history
from escalations.models import Counterpart, Decision, Incident

PERMISSION = "center.add_feedback"
MAX_COMMENT = 4000


def _subject_of(target) -> tuple[str, dict, int | None]:
    """The subject kind, the field that holds it, and the team it belongs to."""
    if isinstance(target, Incident):
        team_id = Incident.objects.filter(pk=target.pk).values_list("agent__team_id", flat=True)
        return FeedbackSubject.INCIDENT, {"incident": target}, team_id.first()
    if isinstance(target, Decision):
        row = (
            Decision.objects.filter(pk=target.pk)
            .values_list("incident__agent__team_id", flat=True)
            .first()
        )
        if row is None:
            row = _decision_agent_team(target)
        return FeedbackSubject.DECISION, {"decision": target}, row
    if isinstance(target, FleetReview):
        return FeedbackSubject.REVIEW, {"review": target}, None
    raise ValidationFailed(
        "Give feedback on an incident, a decision or a fleet review.", field="subject"
    )


def _decision_agent_team(decision: Decision) -> int | None:
    """The team of a decision taken on the agent directly (no incident)."""
    agent_id = getattr(decision, "agent_id", None)
    if agent_id is None:
        return None
    from trust.models import Agent

    return Agent.objects.filter(pk=agent_id).values_list("team_id", flat=True).first()


@transaction.atomic
def feedback_record(
    *,
    target,
    useful: bool,
    credible: bool,
    actor,
    comment: str = "",
    counterpart: Counterpart | None = None,
) -> Feedback:
    """Record the actor's rating of ``target`` (an Incident, a Decision or a FleetReview).

    One rating per author and subject: rating again replaces the earlier one, and
    history keeps both. ``counterpart`` says the rating is a counterpart's.
    """
    if not isinstance(useful, bool):
        raise ValidationFailed("Say whether it was useful (true or false).", field="useful")
    if not isinstance(credible, bool):
        raise ValidationFailed("Say whether it was credible (true or false).", field="credible")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ValidationFailed(f"{MAX_COMMENT} characters at most.", field="comment")
    subject, lookup, team_id = _subject_of(target)
    authorize(
        actor,
        permission=PERMISSION,
        team_ids=[team_id] if team_id else [],
        what=f"rate this {FeedbackSubject(subject).label.lower()}",
    )
    now = timezone.now()
    existing = Feedback.objects.select_for_update().filter(author=actor, **lookup).first()
    if existing is None:
        feedback = Feedback(
            subject=subject,
            team_id=team_id,
            useful=useful,
            credible=credible,
            comment=comment,
            author=actor,
            counterpart=counterpart,
            created_at=now,
            updated_at=now,
            **lookup,
        )
        return save_with_history(feedback, actor=actor, reason="Feedback given")
    if (existing.useful, existing.credible, existing.comment, existing.counterpart_id) == (
        useful,
        credible,
        comment,
        counterpart.pk if counterpart else None,
    ):
        return existing
    existing.useful, existing.credible, existing.comment = useful, credible, comment
    existing.counterpart = counterpart
    existing.updated_at = now
    return save_with_history(
        existing,
        actor=actor,
        reason="Feedback changed",
        update_fields=["useful", "credible", "comment", "counterpart", "updated_at"],
    )
