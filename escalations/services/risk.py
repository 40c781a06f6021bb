"""Risk acceptances: accepting a trust risk for a while instead of acting on it.

A request names the incident, a rationale and an expiry; someone other than the
requester approves it. While approved the incident does not climb (its deadlines
are cleared) and it may be resolved without a decision. When it expires, an
incident that was never decided reopens on its ladder with a fresh
acknowledgement deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from atoc.core.exceptions import InvalidTransition, ValidationFailed
from atoc.core.history import get_system_user, save_with_history
from escalations.choices import IncidentState, RiskAcceptanceState, TimelineKind
from escalations.models import Incident, RiskAcceptance
from escalations.models.risk import ACTIVE_RISK_STATES
from escalations.services.ladder import incident_level, set_deadline
from escalations.services.transitions import (
    Effects,
    incident_brief,
    lock_incident,
    routed_counterparts,
)
from trust.models import Agent

MAX_ACCEPTANCE = timedelta(days=365)


@transaction.atomic
def risk_acceptance_request(
    *,
    incident: Incident,
    rationale: str,
    expires_at: datetime,
    actor,
    now: datetime | None = None,
) -> RiskAcceptance:
    """Ask to accept the incident's risk until ``expires_at`` (at most a year).

    Asking again for the same thing while the first request is pending or approved
    returns it; a different request while one is active is refused.
    """
    now = now or timezone.now()
    rationale = (rationale or "").strip()
    if not rationale:
        raise ValidationFailed("Explain why the risk is acceptable.", field="rationale")
    if not isinstance(expires_at, datetime) or timezone.is_naive(expires_at):
        raise ValidationFailed("Give a date and time with its time zone.", field="expires_at")
    if expires_at <= now:
        raise ValidationFailed("The expiry must be in the future.", field="expires_at")
    if expires_at > now + MAX_ACCEPTANCE:
        raise ValidationFailed("A risk can be accepted for a year at most.", field="expires_at")
    incident = lock_incident(incident.pk)
    if incident.state == IncidentState.RESOLVED:
        raise InvalidTransition(
            f"Incident #{incident.pk} is resolved; there is no risk left to accept.",
            field="incident",
        )
    active = incident.risk_acceptances.filter(state__in=ACTIVE_RISK_STATES).first()
    if active is not None:
        if (
            active.requested_by_id == actor.pk
            and active.rationale == rationale
            and active.expires_at == expires_at
        ):
            return active
        raise InvalidTransition(
            f"Incident #{incident.pk} already has a {active.state} risk acceptance (#{active.pk}).",
            field="incident",
        )
    acceptance = RiskAcceptance(
        incident=incident,
        rationale=rationale,
        expires_at=expires_at,
        requested_by=actor,
        requested_at=now,
    )
    save_with_history(acceptance, actor=actor, reason="Risk acceptance requested")
    effects = Effects(now=now)
    effects.record(
        incident,
        TimelineKind.RISK_ACCEPTANCE_REQUESTED,
        actor=actor,
        data={
            "acceptance": acceptance.pk,
            "expires_at": expires_at.isoformat(),
            "rationale": rationale,
        },
    )
    effects.flush()
    return acceptance


@transaction.atomic
def risk_acceptance_approve(
    *, acceptance: RiskAcceptance, actor, now: datetime | None = None
) -> RiskAcceptance:
    """Approve a requested acceptance; the requester cannot approve their own.

    Approving an approved acceptance is a no-op. The incident stops climbing until
    the acceptance expires.
    """
    now = now or timezone.now()
    incident = lock_incident(acceptance.incident_id)
    acceptance = RiskAcceptance.objects.select_for_update().get(pk=acceptance.pk)
    if acceptance.state == RiskAcceptanceState.APPROVED:
        return acceptance
    if acceptance.state != RiskAcceptanceState.REQUESTED:
        raise InvalidTransition(
            f"Risk acceptance #{acceptance.pk} is {acceptance.state}; it cannot be approved.",
            field="state",
        )
    if acceptance.requested_by_id == actor.pk:
        raise ValidationFailed(
            "A risk acceptance must be approved by someone other than its requester.",
            field="approved_by",
            code="same_person",
        )
    if acceptance.expires_at <= now:
        raise InvalidTransition(
            f"Risk acceptance #{acceptance.pk} has already run out.", field="expires_at"
        )
    if incident.state == IncidentState.RESOLVED:
        raise InvalidTransition(f"Incident #{incident.pk} is already resolved.", field="incident")
    acceptance.state = RiskAcceptanceState.APPROVED
    acceptance.approved_by = actor
    acceptance.approved_at = now
    save_with_history(
        acceptance,
        actor=actor,
        reason="Risk acceptance approved",
        update_fields=["state", "approved_by", "approved_at"],
    )
    incident.ack_due_at = None
    incident.decision_due_at = None
    save_with_history(
        incident,
        actor=actor,
        reason=f"Risk accepted until {acceptance.expires_at:%Y-%m-%d %H:%M}",
        update_fields=["ack_due_at", "decision_due_at"],
    )
    effects = Effects(now=now)
    effects.record(
        incident,
        TimelineKind.RISK_ACCEPTED,
        actor=actor,
        data={
            "acceptance": acceptance.pk,
            "requested_by": acceptance.requested_by_id,
            "expires_at": acceptance.expires_at.isoformat(),
        },
    )
    effects.flush()
    return acceptance


@transaction.atomic
def risk_acceptance_reject(
    *, acceptance: RiskAcceptance, actor, reason: str, now: datetime | None = None
) -> RiskAcceptance:
    """Turn a request down (or withdraw it); rejecting a rejected request is a no-op."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why the request is rejected.", field="reason")
    now = now or timezone.now()
    incident = lock_incident(acceptance.incident_id)
    acceptance = RiskAcceptance.objects.select_for_update().get(pk=acceptance.pk)
    if acceptance.state == RiskAcceptanceState.REJECTED:
        return acceptance
    if acceptance.state != RiskAcceptanceState.REQUESTED:
        raise InvalidTransition(
            f"Risk acceptance #{acceptance.pk} is {acceptance.state}; it cannot be rejected.",
            field="state",
        )
    acceptance.state = RiskAcceptanceState.REJECTED
    acceptance.closed_at = now
    acceptance.closing_note = reason
    save_with_history(
        acceptance,
        actor=actor,
        reason="Risk acceptance rejected",
        update_fields=["state", "closed_at", "closing_note"],
    )
    effects = Effects(now=now)
    effects.record(
        incident,
        TimelineKind.RISK_ACCEPTANCE_REJECTED,
        actor=actor,
        data={"acceptance": acceptance.pk, "reason": reason},
    )
    effects.flush()
    return acceptance


def risk_acceptances_expire(*, now: datetime | None = None, batch_size: int = 200) -> int:
    """Expire every acceptance past its expiry; return how many expired.

    An approved acceptance on an incident that was never decided reopens it: state
    open, a fresh acknowledgement deadline from its current level, reminders reset,
    the routed counterparts told. If the incident was resolved and a newer incident
    for the same agent, kind and pact is open meanwhile, that one carries on and
    nothing reopens. Safe to run twice or on several workers (SKIP LOCKED).
    """
    now = now or timezone.now()
    actor = get_system_user()
    total, after_pk = 0, 0
    while True:
        expired, claimed, last_pk = _expire_batch(
            now=now, after_pk=after_pk, batch_size=batch_size, actor=actor
        )
        total += expired
        if claimed < batch_size:
            return total
        after_pk = last_pk


@transaction.atomic
def _expire_batch(*, now: datetime, after_pk: int, batch_size: int, actor) -> tuple[int, int, int]:
    due = list(
        RiskAcceptance.objects.filter(
            state__in=ACTIVE_RISK_STATES, expires_at__lte=now, pk__gt=after_pk
        )
        .select_for_update(skip_locked=True)
        .order_by("pk")[:batch_size]
    )
    if not due:
        return 0, 0, after_pk
    incident_agents = dict(
        Incident.objects.filter(pk__in={a.incident_id for a in due}).values_list("pk", "agent_id")
    )
    locked_agents = set(
        Agent.objects.filter(pk__in=set(incident_agents.values()))
        .select_for_update(skip_locked=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    incidents = {
        incident.pk: incident
        for incident in Incident.objects.filter(
            pk__in=[pk for pk, agent in incident_agents.items() if agent in locked_agents]
        )
        .select_related("agent", "severity", "ladder")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("pk")
    }
    effects = Effects(now=now)
    expired = 0
    for acceptance in due:
        incident = incidents.get(acceptance.incident_id)
        if incident is None:
            continue  # its agent or incident is busy: the next run expires it
        was_approved = acceptance.state == RiskAcceptanceState.APPROVED
        acceptance.state = RiskAcceptanceState.EXPIRED
        acceptance.closed_at = now
        save_with_history(
            acceptance,
            actor=actor,
            reason="Risk acceptance expired",
            update_fields=["state", "closed_at"],
        )
        expired += 1
        data = {"acceptance": acceptance.pk, "was": "approved" if was_approved else "requested"}
        if not was_approved or incident.decided_at is not None:
            effects.record(incident, TimelineKind.RISK_EXPIRED, actor=actor, data=data)
            continue
        successor = (
            Incident.objects.filter(grouping_key=incident.grouping_key)
            .exclude(state=IncidentState.RESOLVED)
            .exclude(pk=incident.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if successor is not None:
            effects.record(
                incident,
                TimelineKind.RISK_EXPIRED,
                actor=actor,
                data={**data, "superseded_by": successor},
            )
            continue
        _reopen(incident, acceptance=acceptance, actor=actor, effects=effects, data=data)
    effects.flush()
    return expired, len(due), due[-1].pk


def _reopen(
    incident: Incident, *, acceptance: RiskAcceptance, actor, effects: Effects, data: dict
) -> None:
    previous = incident.state
    level = incident_level(incident)
    incident.state = IncidentState.OPEN
    incident.acknowledged_at = None
    incident.decided_at = None
    incident.resolved_at = None
    incident.decision_due_at = None
    incident.reminders_sent = 0
    set_deadline(incident, level, effects.now)
    save_with_history(
        incident,
        actor=actor,
        reason=f"Reopened: risk acceptance #{acceptance.pk} expired",
        update_fields=[
            "state",
            "acknowledged_at",
            "decided_at",
            "resolved_at",
            "ack_due_at",
            "decision_due_at",
            "reminders_sent",
        ],
    )
    effects.record(incident, TimelineKind.RISK_EXPIRED, actor=actor, data=data)
    effects.record(
        incident,
        TimelineKind.REOPENED,
        actor=actor,
        data={"from": previous, "ack_due_at": incident.ack_due_at.isoformat()},
    )
    effects.notify(
        incident,
        counterpart_ids=effects.directory.recipients(
            routed=routed_counterparts([incident]).get(incident.pk, []),
            level=level,
            team_id=incident.agent.team_id,
        ),
        event="reopened",
        key=f"reopened:{acceptance.pk}",
        brief={
            **incident_brief(
                incident, agent_slug=incident.agent.slug, severity=level["name"], now=effects.now
            ),
            "acceptance": acceptance.pk,
        },
        actor=actor,
    )
    effects.summary_agent_ids.add(incident.agent_id)
