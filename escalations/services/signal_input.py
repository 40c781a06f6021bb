"""Validating one incoming signal and computing the fingerprint of its body.

Every field is checked before anything is written, and a refusal names the field
(prefixed with the item's position in a bulk request, e.g. ``items[3].kind``).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from atoc.core.exceptions import ValidationFailed
from escalations.choices import SignalKind
from escalations.models import Control, Incident, Signal, Silence
from escalations.models.signals import IDEMPOTENCY_KEY_MAX
from trust.models import Agent, Pact

CLOCK_SKEW = timedelta(minutes=5)
PAYLOAD_MAX_BYTES = 64 * 1024
SOURCE_MAX_LENGTH = 100
BULK_MAX_ITEMS = 1000
KINDS = frozenset(SignalKind.values)
ITEM_FIELDS = frozenset(
    {"agent", "kind", "observed_at", "source", "idempotency_key", "value", "payload"}
    | {"pact", "severity"}
)


@dataclass
class SignalInput:
    """One signal as validated, and what the pipeline learns about it."""

    index: int
    prefix: str
    agent_ref: Agent | str
    kind: str
    observed_at: datetime
    source: str
    key: str
    value: float | None
    payload: dict
    payload_json: str
    pact_id: int | None
    severity: str
    agent_id: int = 0
    fingerprint: str = ""
    control: Control | None = None
    silence: Silence | None = None
    group_key: str = ""
    replay_of: int | None = None
    same_as: SignalInput | None = None
    signal: Signal | None = None
    incident: Incident | None = None
    opened: bool = False


def signal_input_clean(raw, *, index: int, prefix: str, now: datetime) -> SignalInput:
    if not isinstance(raw, dict):
        raise ValidationFailed("Each signal must be an object.", field=prefix.rstrip(".") or None)
    unknown = sorted(set(raw) - ITEM_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown field {unknown[0]!r}.", field=prefix + unknown[0])

    agent = raw.get("agent")
    if not isinstance(agent, Agent) and not (isinstance(agent, str) and agent.strip()):
        raise ValidationFailed("Name the agent by its slug.", field=prefix + "agent")

    kind = raw.get("kind")
    if kind not in KINDS:
        raise ValidationFailed(
            f"Unknown kind {kind!r}; use one of {', '.join(SignalKind.values)}.",
            field=prefix + "kind",
        )

    observed_at = raw.get("observed_at")
    if isinstance(observed_at, str):
        try:
            observed_at = parse_datetime(observed_at)
        except ValueError:
            observed_at = None
    if not isinstance(observed_at, datetime):
        raise ValidationFailed(
            "Give an ISO 8601 date and time with its time zone.", field=prefix + "observed_at"
        )
    if timezone.is_naive(observed_at):
        raise ValidationFailed("Include the time zone.", field=prefix + "observed_at")
    if observed_at > now + CLOCK_SKEW:
        raise ValidationFailed("observed_at is in the future.", field=prefix + "observed_at")

    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ValidationFailed("Name the source of the signal.", field=prefix + "source")
    if len(source) > SOURCE_MAX_LENGTH:
        raise ValidationFailed(f"At most {SOURCE_MAX_LENGTH} characters.", field=prefix + "source")

    key = raw.get("idempotency_key")
    if not isinstance(key, str) or not key.strip():
        raise ValidationFailed("An idempotency key is required.", field=prefix + "idempotency_key")
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise ValidationFailed(
            f"At most {IDEMPOTENCY_KEY_MAX} characters.", field=prefix + "idempotency_key"
        )

    value = raw.get("value")
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationFailed("Must be a number or null.", field=prefix + "value")
        value = float(value)
        if not math.isfinite(value):
            raise ValidationFailed("Must be a finite number.", field=prefix + "value")

    payload = raw.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise ValidationFailed("Must be a JSON object.", field=prefix + "payload")
    try:
        payload_json = json.dumps(
            payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError):
        raise ValidationFailed("Must be plain JSON.", field=prefix + "payload") from None
    size = len(payload_json.encode())
    if size > PAYLOAD_MAX_BYTES:
        raise ValidationFailed(
            f"The payload is {size} bytes; at most {PAYLOAD_MAX_BYTES} are accepted.",
            field=prefix + "payload",
        )

    pact = raw.get("pact")
    if pact is not None and not isinstance(pact, Pact | int):
        raise ValidationFailed("Must be a pact id.", field=prefix + "pact")
    severity = raw.get("severity") or ""
    if not isinstance(severity, str):
        raise ValidationFailed("Must be a severity level name.", field=prefix + "severity")

    return SignalInput(
        index=index,
        prefix=prefix,
        agent_ref=agent if isinstance(agent, Agent) else agent.strip(),
        kind=kind,
        observed_at=observed_at,
        source=source,
        key=key,
        value=value,
        payload=payload,
        payload_json=payload_json,
        pact_id=pact.pk if isinstance(pact, Pact) else pact,
        severity=severity,
    )


def signal_fingerprint(item: SignalInput) -> str:
    """SHA-256 of the canonical body: what tells a replay from a different request."""
    head = json.dumps(
        [
            item.agent_id,
            item.kind,
            item.observed_at.astimezone(UTC).isoformat(),
            item.value,
            item.pact_id,
            item.severity,
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(f"{head}\n{item.payload_json}".encode()).hexdigest()
