"""The one documented hand-off from trust to the floors above it.

trust never imports escalations. When evidence calls for a response, a trust
service sends :data:`evidence_recorded` *inside its own transaction*, so the
evidence and whatever the receiver records (a signal, an incident) commit or roll
back together: nothing is lost between the two. The only receiver is registered
by ``escalations`` (``escalations/receivers.py``) and does nothing but call an
escalations service.

Events (``event.kind``):

* ``obligation_breached`` — an evaluation failed one or more obligations;
  ``data["failures"]`` lists ``{"obligation_id", "metric", "value", "threshold",
  "comparator", "severity"}``.
* ``score_changed`` — a new score was recorded; ``data`` has ``previous``,
  ``current`` and ``score_id``.
* ``dispute_opened`` — ``data`` has ``dispute_id``, ``amount``, ``currency``.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.dispatch import Signal

evidence_recorded = Signal()

OBLIGATION_BREACHED = "obligation_breached"
SCORE_CHANGED = "score_changed"
DISPUTE_OPENED = "dispute_opened"


@dataclass(frozen=True)
class EvidenceEvent:
    kind: str
    agent_id: int
    observed_at: datetime
    source_key: str
    pact_id: int | None = None
    actor_id: int | None = None
    data: dict = field(default_factory=dict)


def announce(event: EvidenceEvent) -> None:
    """Send the event to the registered receiver, inside the caller's transaction."""
    evidence_recorded.send(sender=EvidenceEvent, event=event)
