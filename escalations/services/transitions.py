"""Machinery shared by the incident transitions: effects, locks, climbing the ladder.

Every transition collects what it writes (timeline rows, escalations, outbox rows,
consequences on agents) in an :class:`Effects` and flushes it once, so a batch of
transitions costs a constant number of queries.

Locks are always taken agent first, then incident (each in primary-key order). The
services that write an agent lock it before the incident; jobs that claim
incidents first (promotion, expiry) take every later lock with SKIP LOCKED, so they
never wait while holding a row and cannot deadlock with an operator or an ingest.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from atoc.core.bulk import insert_rows, update_rows
from atoc.core.history import history_insert_bulk
from escalations.choices import NotificationChannel, RiskAcceptanceState, TimelineKind
from escalations.models import Escalation, Incident, Notification, RiskAcceptance, TimelineEntry
from escalations.services.consequences import (
    agents_refresh_incident_summaries,
    consequences_apply_bulk,
)
from escalations.services.ladder import incident_level, set_deadline
from escalations.services.outbox import notifications_enqueue_delivery
from escalations.services.routing import Directory
from trust.models import Agent

# The columns of the rows Effects collects (the flush adds the times at the end).
ESCALATION_COLUMNS = [
    "incident",
    "from_severity",
    "to_severity",
    "reason",
    "notified",
    "actor",
    "at",
]
NOTIFICATION_COLUMNS = [
    *("incident", "counterpart", "channel", "event", "payload", "dedupe_key"),
    *("next_attempt_at", "created_at"),
]


class Effects:
    """What a set of transitions writes besides the incidents, flushed in one go."""

    def __init__(self, *, now: datetime, directory: Directory | None = None) -> None:
        self.now = now
        self._directory = directory
        # Plain rows rather than model instances: a batch writes thousands of them.
        self.timeline: list[tuple] = []
        self.escalations: list[tuple] = []
        self.notifications: list[tuple] = []
        self.consequences: list[dict] = []
        self.summary_agent_ids: set[int] = set()

    @property
    def directory(self) -> Directory:
        if self._directory is None:
            self._directory = Directory()
        return self._directory

    def record(self, incident: Incident, kind: str, *, actor, data: dict | None = None) -> None:
        """A timeline row for a transition of ``incident``."""
        self.timeline.append((incident, kind, _pk(actor), data or {}))

    def notify(
        self,
        incident: Incident,
        *,
        counterpart_ids: Iterable[int],
        event: str,
        key: str,
        brief: dict,
        actor,
    ) -> list[int]:
        """Queue one outbox row per counterpart and channel; return who was told.

        ``key`` names the occurrence (``promoted:<level>``, ``reminder:…``) so that a
        retried transition queues nothing twice (the dedupe key is unique).
        """
        told = []
        for pk in counterpart_ids:
            cp = self.directory.counterparts.get(pk)
            if cp is None or not cp.active:
                continue
            channels = []
            if cp.email:
                channels.append(NotificationChannel.EMAIL)
            if cp.webhook_url:
                channels.append(NotificationChannel.WEBHOOK)
            for channel in channels:
                self.notifications.append(
                    (
                        incident.pk,
                        pk,
                        channel,
                        event,
                        {**brief, "event": event, "counterpart": cp.name},
                        f"{incident.pk}:{key}:{pk}:{channel}",
                    )
                )
            if channels:
                told.append(pk)
        if told:
            self.record(
                incident,
                TimelineKind.NOTIFICATION_QUEUED,
                actor=actor,
                data={"event": event, "counterparts": told},
            )
        return told

    def escalate(
        self,
        incident: Incident,
        *,
        from_id: int,
        to_id: int,
        reason: str,
        notified: list[int],
        actor,
    ) -> None:
        self.escalations.append((incident.pk, from_id, to_id, reason, notified, _pk(actor)))

    def apply_consequence(
        self, incident: Incident, consequence: str, *, actor, reason: str, level: str = ""
    ) -> None:
        """A level's automatic consequence, applied to the agent at flush time."""
        self.consequences.append(
            {
                "incident": incident,
                "consequence": consequence,
                "actor": actor,
                "reason": reason,
                "level": level,
            }
        )

    def flush(self) -> None:
        """Apply consequences, insert every row, refresh agent read fields, enqueue."""
        consequences = sorted(self.consequences, key=lambda c: c["incident"].agent_id)
        states = consequences_apply_bulk(
            [
                (item["incident"].agent_id, item["consequence"], item["actor"], item["reason"])
                for item in consequences
            ]
        )
        for item, (before, after) in zip(consequences, states, strict=True):
            incident = item["incident"]
            self.record(
                incident,
                TimelineKind.CONSEQUENCE_APPLIED,
                actor=item["actor"],
                data={
                    "consequence": item["consequence"],
                    "automatic": True,
                    "level": item["level"],
                    "before": before,
                    "after": after,
                },
            )
        now = self.now
        if self.escalations:
            insert_rows(
                Escalation,
                fields=ESCALATION_COLUMNS,
                rows=[(*row, now) for row in self.escalations],
            )
        if self.timeline:
            # The incident's key is read now: an incident opened by this batch has
            # one only once it is inserted.
            insert_rows(
                TimelineEntry,
                fields=["incident", "kind", "actor", "data", "at"],
                rows=[(incident.pk, *rest, now) for incident, *rest in self.timeline],
            )
        if self.notifications:
            insert_rows(
                Notification,
                fields=NOTIFICATION_COLUMNS,
                rows=[(*row, now, now) for row in self.notifications],
                ignore_conflicts=True,
            )
            notifications_enqueue_delivery()
        agents_refresh_incident_summaries(self.summary_agent_ids)


def incidents_save_with_history(
    incidents: list[Incident], *, fields: list[str], default_user, default_reason: str = ""
) -> None:
    """Write ``fields`` of many incidents, and one history row each, in two statements.

    What ``bulk_update_with_history`` does, with faster statements: history still
    gets every row, with ``_history_user`` / ``_change_reason`` when the service set
    them.
    """
    if not incidents:
        return
    attnames = [Incident._meta.get_field(name).attname for name in fields]
    update_rows(
        Incident,
        fields=fields,
        rows=[(*(getattr(i, a) for a in attnames), i.pk) for i in incidents],
    )
    history_insert_bulk(
        incidents, update=True, default_user=default_user, default_reason=default_reason
    )


def _pk(obj) -> int | None:
    return None if obj is None else obj.pk


def lock_agent_then_incident(incident: Incident | int) -> Incident:
    """Lock the incident's agent, then the incident (the order every writer uses)."""
    pk = incident if isinstance(incident, int) else incident.pk
    agent_id = Incident.objects.filter(pk=pk).values_list("agent_id", flat=True).first()
    if agent_id is None:
        raise Incident.DoesNotExist(f"Incident {pk} does not exist.")
    list(Agent.objects.select_for_update(of=("self",)).filter(pk=agent_id).values_list("pk"))
    return lock_incident(pk)


def lock_incident(pk: int) -> Incident:
    return (
        Incident.objects.select_for_update(of=("self",))
        .select_related("agent", "severity", "ladder")
        .get(pk=pk)
    )


def routed_counterparts(incidents: Iterable[Incident]) -> dict[int, list[int]]:
    """Who each incident is routed to now (one query), in the order they were added."""
    ids = [incident.pk for incident in incidents]
    if not ids:
        return {}
    rows = (
        Incident.counterparts.through.objects.filter(incident_id__in=ids)
        .order_by("id")
        .values_list("incident_id", "counterpart_id")
    )
    routed: dict[int, list[int]] = {}
    for incident_id, counterpart_id in rows:
        routed.setdefault(incident_id, []).append(counterpart_id)
    return routed


def risk_accepted_ids(incidents: Iterable[Incident]) -> set[int]:
    """Which of these incidents have an approved risk acceptance (one query, or none).

    While its risk is accepted an incident's ladder is paused: no deadline runs.
    """
    ids = [incident.pk for incident in incidents]
    if not ids:
        return set()
    return set(
        RiskAcceptance.objects.filter(
            incident_id__in=ids, state=RiskAcceptanceState.APPROVED
        ).values_list("incident_id", flat=True)
    )


def incident_brief(incident: Incident, *, agent_slug: str, severity: str, now: datetime) -> dict:
    """What a notification says about the incident (JSON)."""
    return {
        "incident": incident.pk,
        "agent": agent_slug,
        "kind": incident.kind,
        "severity": severity,
        "state": incident.state,
        "opened_at": incident.opened_at.isoformat(),
        "ack_due_at": incident.ack_due_at.isoformat() if incident.ack_due_at else None,
        "decision_due_at": (
            incident.decision_due_at.isoformat() if incident.decision_due_at else None
        ),
        "at": now.isoformat(),
    }


def climb(
    incident: Incident,
    *,
    to_level: dict,
    reason: str,
    actor,
    effects: Effects,
    routed: list[int],
    team_id: int,
    agent_slug: str,
    timeline_kind: str = TimelineKind.PROMOTED,
    note: str = "",
    paused: bool = False,
) -> None:
    """Move the incident up to ``to_level`` (in memory) and queue what that causes.

    The clock of the current phase restarts on the new level, unless the ladder is
    ``paused`` (an approved risk acceptance: no deadline runs). The caller saves the
    incident (with history) and flushes ``effects``: an Escalation row, the
    timeline row, notifications to the routed counterparts and the level's
    functions, and the level's automatic consequence.
    """
    current = incident_level(incident)
    incident.severity_id = to_level["id"]
    incident.reminders_sent = 0
    if paused:
        incident.ack_due_at = incident.decision_due_at = None
    else:
        set_deadline(incident, to_level, effects.now)
    incident._history_user = actor
    incident._change_reason = f"{current['name']} → {to_level['name']}: {reason}"
    data = {"from": current["name"], "to": to_level["name"], "reason": reason}
    if note:
        data["note"] = note
    effects.record(incident, timeline_kind, actor=actor, data=data)
    told = effects.notify(
        incident,
        counterpart_ids=effects.directory.recipients(
            routed=routed, level=to_level, team_id=team_id
        ),
        event="promoted",
        key=f"promoted:{to_level['id']}",
        brief={
            **incident_brief(
                incident, agent_slug=agent_slug, severity=to_level["name"], now=effects.now
            ),
            "reason": reason,
            "from": current["name"],
        },
        actor=actor,
    )
    effects.escalate(
        incident,
        from_id=current["id"],
        to_id=to_level["id"],
        reason=reason,
        notified=told,
        actor=actor,
    )
    if to_level["automatic_consequence"]:
        effects.apply_consequence(
            incident,
            to_level["automatic_consequence"],
            actor=actor,
            reason=f"Incident #{incident.pk} reached {to_level['name']}",
            level=to_level["name"],
        )
    effects.summary_agent_ids.add(incident.agent_id)
