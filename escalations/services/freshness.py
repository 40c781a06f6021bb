"""The freshness check: agents whose newest evidence went stale raise a signal."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet, Subquery
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
    """Stale, unretired agents with no acting stale signal for their current lapse (one query).

    A lapse's signals are observed at or after the instant it went stale. One that a
    silence suppressed does not count: once the silence is over the lapse is
    signalled again (see :func:`freshness_check`). Rows of ``(agent id, slug,
    evaluation_due_at, pact id, last_evaluated_at, newest suppressed signal id)`` in
    id order.
    """
    lapse_signals = Signal.objects.filter(
        agent_id=OuterRef("pk"),
        kind=SignalKind.EVALUATION_STALE,
        observed_at__gte=OuterRef("evaluation_due_at"),
    )
    newest_suppressed = lapse_signals.filter(suppressed=True).order_by("-observed_at", "-pk")
    return (
        agents_stale(now=now)
        .exclude(status=AgentStatus.RETIRED)
        .filter(~Exists(lapse_signals.filter(suppressed=False)))
        .annotate(suppressed_signal=Subquery(newest_suppressed.values("pk")[:1]))
        .order_by("pk")
        .values_list(
            "pk",
            "slug",
            "evaluation_due_at",
            "pact_version__pact_id",
            "last_evaluated_at",
            "suppressed_signal",
        )
    )


def _after_silences(rows: list[tuple], *, now: datetime) -> list[tuple]:
    """What to signal for each lapse: ``(agent id, slug, observed at, key, pact id, due, last)``.

    A lapse not signalled yet is observed when it went stale. A lapse whose signal a
    silence suppressed is signalled again when that stretch of silence ends (observed
    then, keyed by the suppressed signal, so every later run finds the same one);
    while the silence lasts, nothing.
    """
    suppressed = Signal.objects.select_related("silence").in_bulk(
        [row[5] for row in rows if row[5] is not None]
    )
    wanted = []
    for pk, slug, due, pact_id, last, suppressed_id in rows:
        key = stale_signal_key(agent_id=pk, evaluation_due_at=due)
        observed = due
        if suppressed_id is not None:
            signal = suppressed[suppressed_id]
            ends = signal.silence.in_force_until(signal.observed_at) if signal.silence else None
            observed = ends or signal.observed_at
            if observed > now:
                continue  # still silenced
            key = f"{key}:after:{signal.pk}"
        wanted.append((pk, slug, observed, key, pact_id, due, last))
    return wanted


def freshness_check(*, now: datetime | None = None) -> int:
    """Raise an ``evaluation_stale`` signal for every agent whose evidence went stale.

    One set-based query finds the stale agents that have no signal for this lapse
    yet (an agent is stale from ``evaluation_due_at`` until its next evaluation);
    the signals are ingested in batches of 1,000, each batch its own transaction.
    The idempotency key is derived from the agent and the instant it went stale, so
    a second run, or two at once, emits no duplicate; grouping keeps one open
    incident per agent and pact. A lapse that began inside a silence is stored
    suppressed, and signalled again when the silence ends if the agent is still
    stale. Returns the number of signals created.
    """
    now = now or timezone.now()
    actor = get_system_user()
    rows = _after_silences(list(stale_agents_to_signal(now=now)), now=now)
    created = 0
    for start in range(0, len(rows), BULK_MAX_ITEMS):
        items = [
            {
                "agent": slug,
                "kind": SignalKind.EVALUATION_STALE,
                "observed_at": observed,
                "source": FRESHNESS_SOURCE,
                "idempotency_key": key,
                "pact": pact_id,
                "payload": {
                    "evaluation_due_at": due.isoformat(),
                    "last_evaluated_at": last.isoformat() if last else None,
                },
            }
            for _, slug, observed, key, pact_id, due, last in rows[start : start + BULK_MAX_ITEMS]
        ]
        outcomes = signals_ingest_bulk(items=items, actor=actor, now=now)
        created += sum(1 for outcome in outcomes if outcome.created)
    return created
