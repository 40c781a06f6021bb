"""The receiver of the trust hand-off: it only calls an escalations service."""

from escalations.services.evidence import evidence_signal_ingest


def on_evidence_recorded(sender, event, **kwargs) -> None:
    """Turn evidence announced by ``trust`` into a signal (same transaction)."""
    evidence_signal_ingest(event=event)
