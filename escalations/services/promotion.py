"""The promotion sweep: incidents nobody handled in time climb the ladder."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from atoc.core.history import get_system_user
from escalations.choices import EscalationReason, IncidentState, TimelineKind
from escalations.models import Incident, SeverityLevel
from escalations.services.ladder import attach_ladders, incident_level, snapshot_level_above
from escalations.services.transitions import (
    Effects,
    climb,
    incident_brief,
    incidents_save_with_history,
    routed_counterparts,
)
from trust.models import Agent

PROMOTION_FIELDS = ["severity", "ack_due_at", "decision_due_at", "reminders_sent"]


def overdue_q(now: datetime) -> Q:
    """Incidents whose current phase is past its deadline."""
    return Q(state=IncidentState.OPEN, ack_due_at__lte=now) | Q(
        state=IncidentState.ACKNOWLEDGED, decision_due_at__lte=now
    )


def incidents_promote_overdue(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Promote every overdue incident one level; return how many climbed or were reminded.

    An open incident past ``ack_due_at`` climbs with reason ``deadline_passed``; an
    acknowledged one past ``decision_due_at`` with ``decision_overdue``. Each climbs
    on its own ladder snapshot and gets a fresh deadline from the new level, an
    Escalation row, notifications and the level's automatic consequence. At the top
    level it is reminded every ``reminder_interval`` until ``max_reminders``, then
    nothing more is scheduled for that phase.

    Safe to run on several workers at once: each batch (its own transaction) claims
    incidents with ``SELECT … FOR UPDATE SKIP LOCKED`` in primary-key order and
    re-checks the deadline under the lock, so nothing is promoted twice. Incidents
    whose agent is locked by another writer are left for the next run.
    """
    now = now or timezone.now()
    actor = get_system_user()
    total, after_pk = 0, 0
    while True:
        promoted, claimed, last_pk = _promote_batch(
            now=now, after_pk=after_pk, batch_size=batch_size, actor=actor
        )
        total += promoted
        if claimed < batch_size:
            return total
        after_pk = last_pk


@transaction.atomic
def _promote_batch(*, now: datetime, after_pk: int, batch_size: int, actor) -> tuple[int, int, int]:
    claimed = list(
        Incident.objects.filter(overdue_q(now), pk__gt=after_pk)
        # Only what notifications say about the agent, not a whole Agent per incident.
        .annotate(agent_slug=F("agent__slug"), agent_team_id=F("agent__team_id"))
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("pk")[:batch_size]
    )
    if not claimed:
        return 0, 0, after_pk
    last_pk = claimed[-1].pk
    agent_ids = sorted({incident.agent_id for incident in claimed})
    locked_agents = set(
        Agent.objects.filter(pk__in=agent_ids)
        .select_for_update(skip_locked=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    existing_levels = set(SeverityLevel.objects.values_list("pk", flat=True))
    attach_ladders(claimed)
    effects = Effects(now=now)
    routed = routed_counterparts(claimed)
    changed = []
    for incident in claimed:
        if incident.agent_id not in locked_agents or not _is_due(incident, now):
            continue
        level = incident_level(incident)
        above = snapshot_level_above(incident.ladder_snapshot, level["rank"], existing_levels)
        if above is not None:
            reason = (
                EscalationReason.DEADLINE_PASSED
                if incident.state == IncidentState.OPEN
                else EscalationReason.DECISION_OVERDUE
            )
            climb(
                incident,
                to_level=above,
                reason=reason,
                actor=actor,
                effects=effects,
                routed=routed.get(incident.pk, []),
                team_id=incident.agent_team_id,
                agent_slug=incident.agent_slug,
            )
        else:
            _remind(incident, level=level, actor=actor, effects=effects, routed=routed)
        changed.append(incident)
    if changed:
        incidents_save_with_history(changed, fields=PROMOTION_FIELDS, default_user=actor)
    effects.flush()
    return sum(1 for i in changed if getattr(i, "_promoted", True)), len(claimed), last_pk


def _is_due(incident: Incident, now: datetime) -> bool:
    if incident.state == IncidentState.OPEN:
        return incident.ack_due_at is not None and incident.ack_due_at <= now
    if incident.state == IncidentState.ACKNOWLEDGED:
        return incident.decision_due_at is not None and incident.decision_due_at <= now
    return False


def _remind(incident: Incident, *, level: dict, actor, effects: Effects, routed: dict) -> None:
    """At the top level: remind (bounded), then stop scheduling this phase."""
    due_field = "ack_due_at" if incident.state == IncidentState.OPEN else "decision_due_at"
    # The deadline that passed names this occurrence: a retry of the same reminder
    # queues nothing twice, while the reminders of a reopened incident are new.
    passed = getattr(incident, due_field)
    incident._history_user = actor
    if incident.reminders_sent >= level["max_reminders"]:
        setattr(incident, due_field, None)
        incident._change_reason = f"Top of the ladder: {level['max_reminders']} reminders sent"
        incident._promoted = False
        return
    number = incident.reminders_sent + 1
    incident.reminders_sent = number
    interval = level["reminder_interval"]
    next_due = (
        effects.now + timedelta(seconds=interval)
        if number < level["max_reminders"] and interval
        else None
    )
    setattr(incident, due_field, next_due)
    incident._change_reason = f"Reminder {number} of {level['max_reminders']} at {level['name']}"
    effects.record(
        incident,
        TimelineKind.REMINDED,
        actor=actor,
        data={
            "number": number,
            "of": level["max_reminders"],
            "severity": level["name"],
            "waiting_for": "acknowledgement" if due_field == "ack_due_at" else "decision",
            "next_due_at": next_due.isoformat() if next_due else None,
        },
    )
    told = effects.notify(
        incident,
        counterpart_ids=effects.directory.recipients(
            routed=routed.get(incident.pk, []), level=level, team_id=incident.agent_team_id
        ),
        event="reminder",
        key=f"reminder:{level['id']}:{incident.state}:{number}:{passed.timestamp():.0f}",
        brief={
            **incident_brief(
                incident, agent_slug=incident.agent_slug, severity=level["name"], now=effects.now
            ),
            "reminder": number,
            "of": level["max_reminders"],
        },
        actor=actor,
    )
    effects.escalate(
        incident,
        from_id=level["id"],
        to_id=level["id"],
        reason=EscalationReason.REMINDER,
        notified=told,
        actor=actor,
    )
