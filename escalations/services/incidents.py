"""What operators do to an incident: acknowledge, assign, decide, resolve, escalate, reroute.

Every transition locks the row (agent first when it writes the agent), is a no-op
when the incident is already in the target state, writes one timeline row and a
history row with who and why, and refuses an impossible move with a clear reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from atoc.core.exceptions import InvalidTransition, ValidationFailed
from atoc.core.history import save_with_history
from escalations.choices import (
    EscalationReason,
    IncidentConsequence,
    IncidentState,
    TimelineKind,
)
from escalations.models import Counterpart, Decision, Incident, SeverityLevel
from escalations.services.consequences import consequence_apply
from escalations.services.ladder import incident_level, set_deadline, snapshot_level_above
from escalations.services.transitions import (
    Effects,
    climb,
    incident_brief,
    lock_agent_then_incident,
    lock_incident,
    risk_accepted_ids,
    routed_counterparts,
)


def _require_text(value: str | None, *, field: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(f"Give {what}.", field=field)
    return value


def _refuse_if_resolved(incident: Incident, action: str) -> None:
    if incident.state == IncidentState.RESOLVED:
        raise InvalidTransition(
            f"Incident #{incident.pk} is resolved; it cannot be {action}.", field="state"
        )


@transaction.atomic
def incident_acknowledge(*, incident: Incident, actor, note: str = "") -> Incident:
    """Acknowledge an open incident: the decision clock of its level starts.

    The acknowledger becomes the owner when there is none. Acknowledging an
    acknowledged or decided incident is a no-op; a resolved one is refused.
    """
    incident = lock_incident(incident.pk)
    _refuse_if_resolved(incident, "acknowledged")
    if incident.state != IncidentState.OPEN:
        return incident
    now = timezone.now()
    _acknowledge(incident, actor=actor, now=now, note=note)
    fields = ["state", "acknowledged_at", "decision_due_at", "reminders_sent", "owner"]
    if _risk_accepted(incident):
        incident.decision_due_at = None  # the accepted risk pauses the ladder
    save_with_history(incident, actor=actor, reason=note or "Acknowledged", update_fields=fields)
    effects = Effects(now=now)
    effects.record(incident, TimelineKind.ACKNOWLEDGED, actor=actor, data=_note(note))
    effects.flush()
    return incident


def _acknowledge(incident: Incident, *, actor, now, note: str) -> None:
    incident.state = IncidentState.ACKNOWLEDGED
    incident.acknowledged_at = now
    incident.reminders_sent = 0
    if incident.owner_id is None:
        incident.owner = actor
    set_deadline(incident, incident_level(incident), now)


@transaction.atomic
def incident_assign(*, incident: Incident, owner, actor, note: str = "") -> Incident:
    """Make ``owner`` (a user, or None to unassign) responsible for the incident."""
    incident = lock_incident(incident.pk)
    _refuse_if_resolved(incident, "assigned")
    owner_id = owner.pk if owner is not None else None
    if incident.owner_id == owner_id:
        return incident
    previous = incident.owner_id
    incident.owner = owner
    save_with_history(
        incident,
        actor=actor,
        reason=note or ("Assigned" if owner else "Unassigned"),
        update_fields=["owner"],
    )
    effects = Effects(now=timezone.now())
    effects.record(
        incident,
        TimelineKind.ASSIGNED,
        actor=actor,
        data={"from": previous, "to": owner_id, **_note(note)},
    )
    effects.flush()
    return incident


@transaction.atomic
def incident_decide(*, incident: Incident, consequence: str, rationale: str, actor) -> Incident:
    """Decide what happens to the agent, and apply it in the same transaction.

    ``consequence``: monitor (nothing changes), require_review (status
    under_review), restrict_autonomy (restricted, human in the loop), reroute
    (routing shadow), suspend (suspended, no autonomy, routing blocked) or restore
    (active, supervised, live). Deciding an open incident acknowledges it too.
    Deciding again with the same consequence is a no-op; with another, or on a
    resolved incident, it is refused.
    """
    if consequence not in IncidentConsequence.values:
        raise ValidationFailed(
            f"Unknown consequence {consequence!r}; use one of "
            f"{', '.join(IncidentConsequence.values)}.",
            field="consequence",
        )
    rationale = _require_text(rationale, field="rationale", what="the rationale for the decision")
    incident = lock_agent_then_incident(incident)
    _refuse_if_resolved(incident, "decided")
    if incident.state == IncidentState.DECIDED:
        last = incident.decisions.order_by("-decided_at", "-id").first()
        if last is not None and last.consequence == consequence:
            return incident
        raise InvalidTransition(
            f"Incident #{incident.pk} is already decided ({last.consequence if last else '?'}); "
            "resolve it, or decide on the agent from a new incident.",
            field="consequence",
        )
    now = timezone.now()
    effects = Effects(now=now)
    fields = ["state", "decided_at"]
    if incident.state == IncidentState.OPEN:
        _acknowledge(incident, actor=actor, now=now, note="")
        fields += ["acknowledged_at", "decision_due_at", "reminders_sent", "owner"]
        effects.record(incident, TimelineKind.ACKNOWLEDGED, actor=actor, data={"by_deciding": True})
    reason = f"Decision on incident #{incident.pk}: {consequence}"
    before, after = consequence_apply(
        agent_id=incident.agent_id, consequence=consequence, actor=actor, reason=reason
    )
    decision = Decision.objects.create(
        incident=incident,
        agent_id=incident.agent_id,
        consequence=consequence,
        rationale=rationale,
        actor=actor,
        decided_at=now,
        agent_before=before,
        agent_after=after,
    )
    incident.state = IncidentState.DECIDED
    incident.decided_at = now
    save_with_history(incident, actor=actor, reason=f"Decided: {consequence}", update_fields=fields)
    effects.record(
        incident,
        TimelineKind.DECIDED,
        actor=actor,
        data={"decision": decision.pk, "consequence": consequence, "rationale": rationale},
    )
    if consequence != IncidentConsequence.MONITOR:
        effects.record(
            incident,
            TimelineKind.CONSEQUENCE_APPLIED,
            actor=actor,
            data={
                "consequence": consequence,
                "automatic": False,
                "before": before,
                "after": after,
            },
        )
    agent = incident.agent
    effects.notify(
        incident,
        counterpart_ids=routed_counterparts([incident]).get(incident.pk, []),
        event="decided",
        key="decided",
        brief={
            **incident_brief(
                incident, agent_slug=agent.slug, severity=incident.severity.name, now=now
            ),
            "consequence": consequence,
            "rationale": rationale,
        },
        actor=actor,
    )
    effects.flush()
    return incident


@transaction.atomic
def incident_resolve(*, incident: Incident, actor, note: str = "") -> Incident:
    """Close a decided incident (or one whose risk was accepted); resolving twice is a no-op."""
    incident = lock_agent_then_incident(incident)
    if incident.state == IncidentState.RESOLVED:
        return incident
    if incident.state != IncidentState.DECIDED and not _risk_accepted(incident):
        raise InvalidTransition(
            f"Incident #{incident.pk} is {incident.state}: decide it (or have a risk "
            "acceptance approved) before resolving it.",
            field="state",
        )
    now = timezone.now()
    incident.state = IncidentState.RESOLVED
    incident.resolved_at = now
    save_with_history(
        incident, actor=actor, reason=note or "Resolved", update_fields=["state", "resolved_at"]
    )
    effects = Effects(now=now)
    effects.record(incident, TimelineKind.RESOLVED, actor=actor, data=_note(note))
    effects.summary_agent_ids.add(incident.agent_id)
    effects.flush()
    return incident


@transaction.atomic
def incident_escalate(*, incident: Incident, actor, reason: str) -> Incident:
    """Move an open or acknowledged incident one level up its ladder, by hand.

    Each call climbs one level (a retried request climbs again: send the expected
    level from the interface if that matters); at the top level it is refused.
    """
    reason = _require_text(reason, field="reason", what="a reason for escalating")
    incident = lock_agent_then_incident(incident)
    if incident.state not in (IncidentState.OPEN, IncidentState.ACKNOWLEDGED):
        raise InvalidTransition(
            f"Incident #{incident.pk} is {incident.state}; only open or acknowledged "
            "incidents can be escalated.",
            field="state",
        )
    level = incident_level(incident)
    above = snapshot_level_above(incident.ladder_snapshot, level["rank"], _existing_levels())
    if above is None:
        raise InvalidTransition(
            f"Incident #{incident.pk} is already at the top of its ladder ({level['name']}).",
            field="severity",
        )
    now = timezone.now()
    effects = Effects(now=now)
    climb(
        incident,
        to_level=above,
        reason=EscalationReason.MANUAL,
        actor=actor,
        effects=effects,
        routed=routed_counterparts([incident]).get(incident.pk, []),
        team_id=incident.agent.team_id,
        agent_slug=incident.agent.slug,
        timeline_kind=TimelineKind.ESCALATED_MANUALLY,
        note=reason,
        paused=_risk_accepted(incident),
    )
    save_with_history(
        incident,
        actor=actor,
        reason=f"Escalated to {above['name']}: {reason}",
        update_fields=["severity", "ack_due_at", "decision_due_at", "reminders_sent"],
    )
    effects.flush()
    return incident


@transaction.atomic
def incident_reroute(
    *, incident: Incident, counterparts: Iterable[Counterpart], actor, reason: str
) -> Incident:
    """Route the incident to other counterparts (routing accuracy counts these).

    Newly added counterparts are notified. Rerouting to the same set is a no-op.
    """
    reason = _require_text(reason, field="reason", what="a reason for rerouting")
    wanted = sorted({c.pk for c in counterparts})
    if not wanted:
        raise ValidationFailed(
            "Route the incident to at least one counterpart.", field="counterparts"
        )
    active = set(
        Counterpart.objects.filter(pk__in=wanted, active=True).values_list("pk", flat=True)
    )
    missing = [pk for pk in wanted if pk not in active]
    if missing:
        raise ValidationFailed(
            f"Counterpart {missing[0]} does not exist or is inactive.", field="counterparts"
        )
    incident = lock_incident(incident.pk)
    _refuse_if_resolved(incident, "rerouted")
    current = routed_counterparts([incident]).get(incident.pk, [])
    if sorted(current) == wanted:
        return incident
    now = timezone.now()
    incident.counterparts.set(wanted)
    first_time = not incident.rerouted
    incident.rerouted = True
    save_with_history(
        incident, actor=actor, reason=f"Rerouted: {reason}", update_fields=["rerouted"]
    )
    effects = Effects(now=now)
    count = incident.timeline.filter(kind=TimelineKind.REROUTED).count() + 1
    effects.record(
        incident,
        TimelineKind.REROUTED,
        actor=actor,
        data={"from": sorted(current), "to": wanted, "reason": reason, "first": first_time},
    )
    added = [pk for pk in wanted if pk not in current]
    effects.notify(
        incident,
        counterpart_ids=added,
        event="rerouted",
        key=f"rerouted:{count}",
        brief={
            **incident_brief(
                incident,
                agent_slug=incident.agent.slug,
                severity=incident.severity.name,
                now=now,
            ),
            "reason": reason,
        },
        actor=actor,
    )
    effects.flush()
    return incident


def _risk_accepted(incident: Incident) -> bool:
    return incident.pk in risk_accepted_ids([incident])


def _existing_levels() -> set[int]:
    return set(SeverityLevel.objects.values_list("pk", flat=True))


def _note(note: str) -> dict:
    return {"note": note} if note else {}
