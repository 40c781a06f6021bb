"""Turning trust evidence (the hand-off from ``trust``) into signals.

``trust`` announces evidence through :data:`trust.handoff.evidence_recorded` inside
its own transaction; the receiver calls :func:`evidence_signal_ingest`, so the
evidence and the signal (and any incident) commit or roll back together. Signals
raised here have source ``atoc`` and the event's ``source_key`` as idempotency key,
so a retried trust write never duplicates them.

* ``obligation_breached`` → ``pact_breach``; value = the number of failed
  obligations. The incident opens at the higher of the control's level and the
  worst failed obligation's ``breach_severity`` (the pact's author said how grave
  a breach is; the control sets the floor), and an open incident it joins climbs
  to that level (reason ``new_evidence``).
* ``score_changed`` → ``score_drop`` only when previous − current reaches the
  threshold of the enabled ``score_drop`` control; value = the drop in points.
* ``dispute_opened`` → ``settlement_dispute``; value = the amount at stake.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone

from atoc.core.history import get_system_user
from escalations.choices import SignalKind
from escalations.models import Control, SeverityLevel, Signal
from escalations.services.signals import SignalOutcome, signal_ingest
from trust import handoff
from trust.models import Agent

EVIDENCE_SOURCE = "atoc"


def evidence_signal_ingest(*, event: handoff.EvidenceEvent) -> SignalOutcome | None:
    """Raise the signal a piece of trust evidence calls for, or None when it calls for none."""
    kind, value, severity = _signal_for(event)
    if kind is None:
        return None
    # The source key names one evidence record, so a second announcement of it is
    # the same evidence: return what the first produced rather than refusing a
    # body that differs only by when it was announced (and failing the trust write).
    earlier = (
        Signal.objects.filter(source=EVIDENCE_SOURCE, idempotency_key=event.source_key)
        .select_related("incident")
        .first()
    )
    if earlier is not None:
        return SignalOutcome(signal=earlier, incident=earlier.incident, created=False)
    return signal_ingest(
        agent=Agent(pk=event.agent_id),
        kind=kind,
        observed_at=event.observed_at,
        source=EVIDENCE_SOURCE,
        idempotency_key=event.source_key,
        value=value,
        payload={"event": event.kind, **event.data},
        pact=event.pact_id,
        severity=severity,
        actor=_actor(event.actor_id),
        # Trust already validated the evidence and may run on its own clock (a job
        # passing ``now``): the signal is never refused as being "in the future".
        now=max(timezone.now(), event.observed_at),
    )


def _signal_for(event: handoff.EvidenceEvent) -> tuple[str | None, float | None, str | None]:
    if event.kind == handoff.OBLIGATION_BREACHED:
        failures = event.data.get("failures") or []
        return SignalKind.PACT_BREACH, float(len(failures)), _worst_severity(failures)
    if event.kind == handoff.SCORE_CHANGED:
        drop = (event.data.get("previous") or 0) - (event.data.get("current") or 0)
        control = Control.objects.filter(enabled=True, signal_kind=SignalKind.SCORE_DROP).first()
        if control is None or drop <= 0 or not control.triggers(float(drop)):
            return None, None, None
        return SignalKind.SCORE_DROP, float(drop), None
    if event.kind == handoff.DISPUTE_OPENED:
        try:
            amount = float(event.data.get("amount"))
        except (TypeError, ValueError):
            amount = None
        return SignalKind.SETTLEMENT_DISPUTE, amount, None
    return None, None, None


def _worst_severity(failures: list[dict]) -> str | None:
    """The most severe ladder level named by the failures (names unknown to the ladder
    are ignored: the control's level applies)."""
    names = {f.get("severity") for f in failures if f.get("severity")}
    if not names:
        return None
    level = SeverityLevel.objects.filter(name__in=names).order_by("-rank").first()
    return level.name if level else None


def _actor(actor_id: int | None):
    if actor_id is not None:
        user = get_user_model().objects.filter(pk=actor_id).first()
        if user is not None:
            return user
    return get_system_user()
