"""Ingesting signals: store, match the control, group into incidents, route, notify.

One call handles a whole batch with a constant number of queries (lock the agents,
find the keys already used, find the open incidents, insert everything in bulk), so
the single and the bulk entry points share one code path. All or nothing: every
item is validated before anything is written, and the batch is one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from atoc.core.bulk import insert_objects, insert_rows, update_rows
from atoc.core.exceptions import ValidationFailed
from atoc.core.history import history_insert_bulk
from escalations.choices import (
    EscalationReason,
    IncidentState,
    TimelineKind,
)
from escalations.exceptions import IdempotencyConflict, IdempotencyInProgress, UnknownAgent
from escalations.models import Control, Incident, Signal, Silence
from escalations.services.ladder import (
    attach_ladders,
    ladder_levels,
    ladder_snapshot_for,
    snapshot_level,
)
from escalations.services.signal_input import (
    BULK_MAX_ITEMS,
    SignalInput,
    signal_fingerprint,
    signal_input_clean,
)
from escalations.services.transitions import (
    Effects,
    climb,
    incident_brief,
    incidents_save_with_history,
    risk_accepted_ids,
    routed_counterparts,
)
from trust.models import Agent, Pact


@dataclass
class SignalOutcome:
    """The result of ingesting one signal (or of replaying it).

    ``created`` is False for a replay (same source, key and body): ``signal`` and
    ``incident`` are then what the first call produced. ``opened`` tells whether
    this signal opened its incident rather than joining it.
    """

    signal: Signal
    incident: Incident | None
    created: bool
    opened: bool = False


@transaction.atomic
def signal_ingest(
    *,
    agent: Agent | str,
    kind: str,
    observed_at: datetime | str,
    source: str,
    idempotency_key: str,
    actor,
    value: float | None = None,
    payload: dict | None = None,
    pact: Pact | int | None = None,
    severity: str | None = None,
    now: datetime | None = None,
) -> SignalOutcome:
    """Store one signal and act on it (see :func:`signals_ingest_bulk`).

    ``agent`` is an Agent or its slug. ``pact`` defaults to the agent's current
    pact (it is part of the grouping key ``agent:kind:pact``). ``severity`` names a
    ladder level the evidence calls for: the incident opens at the higher of it and
    the control's level, and an open incident it joins climbs to it (reason
    ``new_evidence``).
    """
    item = {
        "agent": agent,
        "kind": kind,
        "observed_at": observed_at,
        "source": source,
        "idempotency_key": idempotency_key,
        "value": value,
        "payload": payload,
        "pact": pact,
        "severity": severity,
    }
    return _ingest([item], actor=actor, now=now, prefix=lambda index: "")[0]


@transaction.atomic
def signals_ingest_bulk(
    *, items: list[dict], actor, now: datetime | None = None
) -> list[SignalOutcome]:
    """Ingest up to 1,000 signals at once, all or nothing; one outcome per item, in order.

    Each item has the keyword arguments of :func:`signal_ingest`. Each signal is
    stored; a replay of ``(source, idempotency_key)`` with the same body returns the
    first result and creates nothing, a different body raises
    :class:`IdempotencyConflict`. A signal matching the enabled control of its kind
    (and its condition) joins the unresolved incident with the same grouping key or
    opens one at the control's level, routed by the routing rules plus the
    control's owner, with notifications queued in the outbox; inside a silence it
    is stored as suppressed and opens nothing. Delivery is enqueued on commit.
    """
    if not isinstance(items, list | tuple) or not items:
        raise ValidationFailed("Send at least one signal.", field="items")
    if len(items) > BULK_MAX_ITEMS:
        raise ValidationFailed(
            f"At most {BULK_MAX_ITEMS} signals per request ({len(items)} sent).", field="items"
        )
    return _ingest(list(items), actor=actor, now=now, prefix=lambda index: f"items[{index}].")


# --- the pipeline --------------------------------------------------------------------------


def _ingest(raw_items: list, *, actor, now: datetime | None, prefix) -> list[SignalOutcome]:
    now = now or timezone.now()
    items = [
        signal_input_clean(raw, index=i, prefix=prefix(i), now=now)
        for i, raw in enumerate(raw_items)
    ]
    agents = _lock_agents(items)
    levels = ladder_levels()
    _check_references(items, levels)
    for item in items:
        item.fingerprint = signal_fingerprint(item)
    new = _sort_out_replays(items)

    effects = Effects(now=now)
    if new:
        controls = {
            c.signal_kind: c
            for c in Control.objects.filter(enabled=True).select_related("opening_severity")
        }
        silences = _silences_for(new)
        for item in new:
            agent = agents[item.agent_id]
            item.pact_id = item.pact_id or agent["pact_version__pact_id"]
            item.control = controls.get(item.kind)
            if item.control is None or not item.control.triggers(item.value):
                continue
            item.silence = next(
                (s for s in silences.get(item.agent_id, ()) if s.covers(item.observed_at)), None
            )
            if item.silence is None:
                item.group_key = f"{item.agent_id}:{item.kind}:{item.pact_id or '-'}"
        _group(new, agents=agents, levels=levels, actor=actor, now=now, effects=effects)
    effects.flush()
    return _outcomes(items)


def _lock_agents(items: list[SignalInput]) -> dict[int, dict]:
    """Lock every agent named (primary-key order) and resolve slugs; refuse unknown ones."""
    slugs = {i.agent_ref for i in items if isinstance(i.agent_ref, str)}
    ids = {i.agent_ref.pk for i in items if isinstance(i.agent_ref, Agent)}
    rows = list(
        Agent.objects.filter(Q(slug__in=slugs) | Q(pk__in=ids))
        .select_for_update(of=("self",))
        .order_by("pk")
        .values("id", "slug", "team_id", "tier", "pact_version__pact_id")
    )
    by_id = {row["id"]: row for row in rows}
    by_slug = {row["slug"]: row for row in rows}
    for item in items:
        ref = item.agent_ref
        row = by_slug.get(ref) if isinstance(ref, str) else by_id.get(ref.pk)
        if row is None:
            name = ref if isinstance(ref, str) else ref.slug
            raise UnknownAgent(f"No agent with slug {name!r}.", field=item.prefix + "agent")
        item.agent_id = row["id"]
    return by_id


def _check_references(items: list[SignalInput], levels: list[dict]) -> None:
    names = {level["name"] for level in levels}
    for item in items:
        if item.severity and item.severity not in names:
            raise ValidationFailed(
                f"Unknown severity {item.severity!r}; the ladder has {', '.join(sorted(names))}.",
                field=item.prefix + "severity",
            )
    pact_ids = {item.pact_id for item in items if item.pact_id is not None}
    if pact_ids:
        found = set(Pact.objects.filter(pk__in=pact_ids).values_list("pk", flat=True))
        for item in items:
            if item.pact_id is not None and item.pact_id not in found:
                raise ValidationFailed(f"No pact {item.pact_id}.", field=item.prefix + "pact")


def _sort_out_replays(items: list[SignalInput]) -> list[SignalInput]:
    """Mark replays (same source, key and body); refuse a key reused with another body."""
    by_source: dict[str, set[str]] = defaultdict(set)
    for item in items:
        by_source[item.source].add(item.key)
    query = reduce(
        or_, (Q(source=source, idempotency_key__in=keys) for source, keys in by_source.items())
    )
    existing = {
        (row["source"], row["idempotency_key"]): row
        for row in Signal.objects.filter(query).values(
            "id", "source", "idempotency_key", "fingerprint"
        )
    }
    first: dict[tuple[str, str], SignalInput] = {}
    new = []
    for item in items:
        ident = (item.source, item.key)
        original = existing.get(ident)
        if original is not None:
            if original["fingerprint"] != item.fingerprint:
                raise _conflict(item)
            item.replay_of = original["id"]
        elif ident in first:
            if first[ident].fingerprint != item.fingerprint:
                raise _conflict(item)
            item.same_as = first[ident]
        else:
            first[ident] = item
            new.append(item)
    return new


def _conflict(item: SignalInput) -> IdempotencyConflict:
    return IdempotencyConflict(
        f"Idempotency key {item.key!r} from {item.source!r} was already used with a "
        "different body.",
        field=item.prefix + "idempotency_key",
    )


def _silences_for(items: list[SignalInput]) -> dict[int, list[Silence]]:
    """The silences that may cover each agent over the batch's time span (1–2 queries)."""
    agent_ids = {item.agent_id for item in items}
    earliest = min(item.observed_at for item in items)
    latest = max(item.observed_at for item in items)
    silences = list(
        Silence.objects.filter(starts_at__lte=latest, ends_at__gt=earliest).filter(
            Q(agent_id__in=agent_ids) | Q(component__isnull=False)
        )
    )
    by_agent: dict[int, list[Silence]] = defaultdict(list)
    by_component: dict[int, list[Silence]] = defaultdict(list)
    for silence in silences:
        if silence.agent_id:
            by_agent[silence.agent_id].append(silence)
        else:
            by_component[silence.component_id].append(silence)
    if by_component:
        links = Agent.components.through.objects.filter(
            agent_id__in=agent_ids, component_id__in=by_component
        ).values_list("agent_id", "component_id")
        for agent_id, component_id in links:
            by_agent[agent_id].extend(by_component[component_id])
    return by_agent


class _Ladder:
    """The current ladder, by name and id, and its stored snapshot (made on first use)."""

    def __init__(self, levels: list[dict]) -> None:
        self.levels = levels
        self.by_name = {level["name"]: level for level in levels}
        self.by_id = {level["id"]: level for level in levels}
        self._snapshot = None

    @property
    def snapshot(self):
        if self._snapshot is None:
            self._snapshot = ladder_snapshot_for(self.levels)
        return self._snapshot

    def wanted(self, group: list[SignalInput]) -> dict | None:
        """The highest level the group's evidence names, if any."""
        named = [self.by_name[item.severity] for item in group if item.severity]
        return max(named, key=lambda level: level["rank"]) if named else None


def _group(
    new: list[SignalInput],
    *,
    agents: dict,
    levels: list[dict],
    actor,
    now: datetime,
    effects: Effects,
) -> None:
    """Join or open incidents, store the signals, and write what each transition causes."""
    groups: dict[str, list[SignalInput]] = defaultdict(list)
    for item in new:
        if item.group_key:
            groups[item.group_key].append(item)
    ladder = _Ladder(levels)
    open_by_key = {
        incident.grouping_key: incident
        for incident in Incident.objects.filter(grouping_key__in=list(groups))
        .exclude(state=IncidentState.RESOLVED)
        .select_for_update(of=("self",))
        .order_by("pk")
    }
    opened = [
        _new_incident(group, agent=agents[group[0].agent_id], ladder=ladder, now=now,
                      effects=effects)
        for key, group in groups.items()
        if key not in open_by_key
    ]  # fmt: skip
    if opened:
        insert_objects(opened)
        history_insert_bulk(
            opened, update=False, default_user=actor, default_reason="Opened by a signal"
        )
    raised = _join(open_by_key, groups=groups, ladder=ladder)
    _store_signals(new, actor=actor, now=now)

    if opened:
        links = [(i.pk, c) for i in opened for c in i.routing_snapshot["counterparts"]]
        for through in (Incident.counterparts.through, Incident.first_counterparts.through):
            insert_rows(through, fields=["incident", "counterpart"], rows=links)
    if open_by_key:
        # signal_count and last_signal_at are read fields, excluded from history
        # (INCIDENT_READ_FIELDS), so an update without history skips nothing.
        update_rows(
            Incident,
            fields=["signal_count", "last_signal_at"],
            rows=[(i.signal_count, i.last_signal_at, i.pk) for i in open_by_key.values()],
        )

    for incident in opened:
        _record_opening(
            incident,
            group=groups[incident.grouping_key],
            agent=agents[incident.agent_id],
            level=ladder.by_id[incident.severity_id],
            actor=actor,
            effects=effects,
        )
    for incident in open_by_key.values():
        effects.record(
            incident,
            TimelineKind.SIGNAL_JOINED,
            actor=actor,
            data={"signals": [item.signal.pk for item in groups[incident.grouping_key]]},
        )
    routed = routed_counterparts([incident for incident, _ in raised])
    accepted = risk_accepted_ids(incident for incident, _ in raised)
    for incident, target in raised:
        agent = agents[incident.agent_id]
        climb(
            incident,
            to_level=target,
            reason=EscalationReason.NEW_EVIDENCE,
            actor=actor,
            effects=effects,
            routed=routed.get(incident.pk, []),
            team_id=agent["team_id"],
            agent_slug=agent["slug"],
            paused=incident.pk in accepted,
        )
    incidents_save_with_history(
        [incident for incident, _ in raised],
        fields=["severity", "ack_due_at", "decision_due_at", "reminders_sent"],
        default_user=actor,
        default_reason="Raised by new evidence",
    )


def _new_incident(
    group: list[SignalInput], *, agent: dict, ladder: _Ladder, now: datetime, effects: Effects
) -> Incident:
    """An unsaved incident for a group of signals with no unresolved incident yet.

    It opens at the control's level, or higher when the evidence names a higher one.
    """
    control = group[0].control
    level = ladder.by_id[control.opening_severity_id]
    wanted = ladder.wanted(group)
    if wanted and wanted["rank"] > level["rank"]:
        level = wanted
    route = effects.directory.route(
        kind=control.signal_kind,
        team_id=agent["team_id"],
        tier=agent["tier"],
        rank=level["rank"],
        owner_id=control.owner_id,
    )
    incident = Incident(
        agent_id=agent["id"],
        kind=control.signal_kind,
        pact_id=group[0].pact_id,
        control=control,
        severity_id=level["id"],
        state=IncidentState.OPEN,
        opened_at=now,
        ack_due_at=now + timedelta(seconds=level["ack_deadline"]),
        signal_count=len(group),
        last_signal_at=max(item.observed_at for item in group),
        ladder=ladder.snapshot,
        routing_snapshot=route,
        grouping_key=group[0].group_key,
    )
    group[0].opened = True
    for item in group:
        item.incident = incident
    return incident


def _join(
    open_by_key: dict[str, Incident], *, groups: dict[str, list[SignalInput]], ladder: _Ladder
) -> list[tuple[Incident, dict]]:
    """Count the signals into their open incidents; return those the evidence raises.

    An open or acknowledged incident climbs to the highest level the joining
    evidence names, when its own ladder has that level above its current one.
    """
    hinted = {key: ladder.wanted(groups[key]) for key in open_by_key}
    attach_ladders(open_by_key[key] for key, wanted in hinted.items() if wanted)
    raised = []
    for key, incident in open_by_key.items():
        group = groups[key]
        incident.signal_count += len(group)
        latest = max(item.observed_at for item in group)
        incident.last_signal_at = max(filter(None, [incident.last_signal_at, latest]))
        for item in group:
            item.incident = incident
        wanted = hinted[key]
        if wanted and incident.state in (IncidentState.OPEN, IncidentState.ACKNOWLEDGED):
            target = snapshot_level(incident.ladder_snapshot, wanted["id"])
            current = snapshot_level(incident.ladder_snapshot, incident.severity_id)
            if target and current and target["rank"] > current["rank"]:
                raised.append((incident, target))
    return raised


def _record_opening(
    incident: Incident,
    *,
    group: list[SignalInput],
    agent: dict,
    level: dict,
    actor,
    effects: Effects,
) -> None:
    """Timeline, notifications and the level's consequence of a newly opened incident."""
    route = incident.routing_snapshot
    effects.record(
        incident,
        TimelineKind.OPENED,
        actor=actor,
        data={
            "signal": group[0].signal.pk,
            "severity": level["name"],
            "control": incident.control_id,
            "ack_due_at": incident.ack_due_at.isoformat(),
        },
    )
    if len(group) > 1:
        effects.record(
            incident,
            TimelineKind.SIGNAL_JOINED,
            actor=actor,
            data={"signals": [item.signal.pk for item in group[1:]]},
        )
    effects.record(
        incident,
        TimelineKind.ROUTED,
        actor=actor,
        data={
            "counterparts": route["counterparts"],
            "rules": route["rules"],
            "default": route["default"],
        },
    )
    effects.notify(
        incident,
        counterpart_ids=effects.directory.recipients(
            routed=route["counterparts"], level=level, team_id=agent["team_id"]
        ),
        event="opened",
        key="opened",
        brief=incident_brief(
            incident, agent_slug=agent["slug"], severity=level["name"], now=effects.now
        ),
        actor=actor,
    )
    if level["automatic_consequence"]:
        effects.apply_consequence(
            incident,
            level["automatic_consequence"],
            actor=actor,
            reason=f"Incident #{incident.pk} opened at {level['name']}",
            level=level["name"],
        )
    effects.summary_agent_ids.add(incident.agent_id)


def _store_signals(new: list[SignalInput], *, actor, now: datetime) -> None:
    rows = []
    for item in new:
        item.signal = Signal(
            agent_id=item.agent_id,
            kind=item.kind,
            observed_at=item.observed_at,
            value=item.value,
            source=item.source,
            idempotency_key=item.key,
            payload=item.payload,
            fingerprint=item.fingerprint,
            pact_id=item.pact_id,
            received_at=now,
            received_by=actor,
            control=item.control,
            incident=item.incident,
            suppressed=item.silence is not None,
            silence=item.silence,
        )
        rows.append(item.signal)
    # A key taken by a concurrent request since the replay check is skipped by the
    # insert rather than raised, so the refusal needs no savepoint; raising it rolls
    # back the whole batch.
    if not insert_objects(rows, all_or_none_on=("source", "idempotency_key")):
        raise IdempotencyInProgress(
            "A signal with one of these idempotency keys is being stored by another "
            "request; retry to receive its result.",
            field="idempotency_key",
        )


def _outcomes(items: list[SignalInput]) -> list[SignalOutcome]:
    replay_ids = [item.replay_of for item in items if item.replay_of]
    stored = {}
    if replay_ids:
        stored = {
            s.pk: s for s in Signal.objects.filter(pk__in=replay_ids).select_related("incident")
        }
    outcomes = []
    for item in items:
        if item.replay_of:
            signal = stored[item.replay_of]
            outcomes.append(SignalOutcome(signal=signal, incident=signal.incident, created=False))
        elif item.same_as is not None:
            first = item.same_as
            outcomes.append(
                SignalOutcome(signal=first.signal, incident=first.incident, created=False)
            )
        else:
            outcomes.append(
                SignalOutcome(
                    signal=item.signal, incident=item.incident, created=True, opened=item.opened
                )
            )
    return outcomes
