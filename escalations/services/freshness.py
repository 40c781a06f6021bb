"""The freshness check: agents whose newest evidence went stale raise a signal."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from atoc.core.history import get_system_user
from escalations.choices import SignalKind
from escalations.models import Signal
from escalations.services.signal_input import BULK_MAX_ITEMS
from escalations.services.signals import signals_ingest_bulk
from trust.choices import AgentStatus
from trust.selectors import agents_stale

FRESHNESS_SOURCE = "atoc"


def stale_signal_key(*, agent_id: int, evaluation_due_at: datetime) -> str:
    """The idempotency key of the stale signal for one agent and one lapse of evidence."""
    return f"freshness:{agent_id}:{evaluation_due_at.isoformat()}"


def stale_agents_to_signal(*, now: datetime) -> QuerySet:
    """Stale, unretired agents with no stale signal for their current lapse (one query).

    Rows of ``(agent id, slug, evaluation_due_at, pact id, last_evaluated_at)`` in id
    order.
    """
    already_signalled = Signal.objects.filter(
        agent_id=OuterRef("pk"),
        kind=SignalKind.EVALUATION_STALE,
        observed_at=OuterRef("evaluation_due_at"),
    )
    return (
        agents_stale(now=now)
        .exclude(status=AgentStatus.RETIRED)
        .filter(~Exists(already_signalled))
        .order_by("pk")
        .values_list(
            "pk", "slug", "evaluation_due_at", "pact_version__pact_id", "last_evaluated_at"
        )
    )


def freshness_check(*, now: datetime | None = None) -> int:
    """Raise an ``evaluation_stale`` signal for every agent whose evidence went stale.

    One set-based query finds the stale agents that have no signal for this lapse
    yet (an agent is stale from ``evaluation_due_at`` until its next evaluation);
    the signals are ingested in batches of 1,000, each batch its own transaction.
    The idempotency key is derived from the agent and the instant it went stale, so
    a second run, or two at once, emits no duplicate; grouping keeps one open
    incident per agent and pact. Returns the number of signals created.
    """
    now = now or timezone.now()
    actor = get_system_user()
    rows = list(stale_agents_to_signal(now=now))
    created = 0
    for start in range(0, len(rows), BULK_MAX_ITEMS):
        items = [
            {
                "agent": slug,
                "kind": SignalKind.EVALUATION_STALE,
                "observed_at": due,
                "source": FRESHNESS_SOURCE,
                "idempotency_key": stale_signal_key(agent_id=pk, evaluation_due_at=due),
                "pact": pact_id,
                "payload": {
                    "evaluation_due_at": due.isoformat(),
                    "last_evaluated_at": last.isoformat() if last else None,
                },
            }
            for pk, slug, due, pact_id, last in rows[start : start + BULK_MAX_ITEMS]
        ]
        outcomes = signals_ingest_bulk(items=items, actor=actor, now=now)
        created += sum(1 for outcome in outcomes if outcome.created)
    return created
