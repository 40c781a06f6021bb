"""The ladder as incidents see it: stored snapshots, levels, deadlines."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from escalations.choices import IncidentState
from escalations.models import Incident, LadderSnapshot, SeverityLevel


def ladder_levels() -> list[dict]:
    """The current ladder as plain JSON (lowest rank first)."""
    return [level.as_snapshot() for level in SeverityLevel.objects.order_by("rank")]


def ladder_snapshot_for(levels: list[dict]) -> LadderSnapshot:
    """The stored snapshot of these levels, created on first use (shared by content)."""
    canonical = json.dumps(levels, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    snapshot = LadderSnapshot.objects.filter(digest=digest).first()
    if snapshot is not None:
        return snapshot
    try:
        with transaction.atomic():
            return LadderSnapshot.objects.create(digest=digest, levels=levels)
    except IntegrityError:  # another transaction stored the same ladder meanwhile
        return LadderSnapshot.objects.get(digest=digest)


def attach_ladders(incidents: Iterable[Incident]) -> None:
    """Load the ladder snapshots of many incidents in one query."""
    incidents = list(incidents)
    ladders = LadderSnapshot.objects.in_bulk({incident.ladder_id for incident in incidents})
    for incident in incidents:
        incident.ladder = ladders[incident.ladder_id]


def snapshot_level(snapshot: list[dict], severity_id: int) -> dict | None:
    return next((level for level in snapshot if level["id"] == severity_id), None)


def snapshot_level_above(
    snapshot: list[dict], rank: int, existing_ids: set[int] | None = None
) -> dict | None:
    """The next level up in the snapshot (skipping levels deleted since it was taken)."""
    for level in sorted(snapshot, key=lambda lv: lv["rank"]):
        if level["rank"] > rank and (existing_ids is None or level["id"] in existing_ids):
            return level
    return None


def incident_level(incident: Incident) -> dict:
    """The incident's current level as its snapshot knows it (the live row if missing)."""
    level = snapshot_level(incident.ladder_snapshot, incident.severity_id)
    if level is None:
        level = SeverityLevel.objects.get(pk=incident.severity_id).as_snapshot()
    return level


def set_deadline(incident: Incident, level: dict, now: datetime) -> str | None:
    """Start the clock of the incident's current phase on ``level``; the field it set."""
    if incident.state == IncidentState.OPEN:
        incident.ack_due_at = now + timedelta(seconds=level["ack_deadline"])
        return "ack_due_at"
    if incident.state == IncidentState.ACKNOWLEDGED:
        incident.decision_due_at = now + timedelta(seconds=level["decision_deadline"])
        return "decision_due_at"
    return None


def level_functions(level: dict) -> set[str]:
    """Counterpart functions told about an incident at this level."""
    functions = set(level.get("notify_functions") or [])
    if level.get("leadership_visible"):
        functions.add("leadership")
    return functions
