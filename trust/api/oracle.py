"""The trust oracle: a signed statement of an agent's current trust state.

``GET /api/v1/agents/{slug}/trust/`` answers exactly::

    {"agent", "status", "autonomy", "routing", "score", "score_at",
     "freshness": {"last_evaluated_at", "window_seconds", "stale"},
     "pact_version", "open_incidents": [{"id", "severity", "state"}],
     "issued_at", "key_id", "signature"}

``pact_version`` is the id of the version the agent holds (or null), the same id
evaluations are submitted against. Datetimes are ISO 8601 in UTC with a ``Z``.
The signature is Ed25519 over the canonical JSON of every other field (see
:mod:`atoc.core.signing`); the public keys are at ``GET /api/v1/trust/keys/``.

Open incidents belong to escalations, a floor above trust, so they come from the
provider escalations registers in :mod:`trust.api.hooks` (empty until then).
"""

from datetime import UTC, datetime

from atoc.core.signing import sign_statement
from trust.api import hooks
from trust.models import Agent


def isoformat(value: datetime | None) -> str | None:
    """UTC ISO 8601 with microseconds and ``Z`` (stable, so signatures are reproducible)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def trust_statement_unsigned(agent: Agent, *, now: datetime) -> dict:
    """Every field of the statement except ``key_id`` and ``signature``."""
    window = agent.pact_version.freshness_window if agent.pact_version_id else None
    return {
        "agent": agent.slug,
        "status": agent.status,
        "autonomy": agent.autonomy,
        "routing": agent.routing,
        "score": agent.current_score,
        "score_at": isoformat(agent.score_at),
        "freshness": {
            "last_evaluated_at": isoformat(agent.last_evaluated_at),
            "window_seconds": int(window.total_seconds()) if window is not None else None,
            "stale": agent.is_stale(now),
        },
        "pact_version": agent.pact_version_id,
        "open_incidents": hooks.open_incidents_for(agent),
        "issued_at": isoformat(now),
    }


def trust_statement(agent: Agent, *, now: datetime) -> dict:
    """The signed statement (adds ``key_id`` and ``signature``)."""
    return sign_statement(trust_statement_unsigned(agent, now=now))
