"""escalations: signals become incidents on one severity ladder and end in decisions."""

from django.apps import AppConfig


class EscalationsConfig(AppConfig):
    name = "escalations"
    verbose_name = "Escalations"

    def ready(self) -> None:
        from trust.handoff import evidence_recorded

        from . import receivers

        evidence_recorded.connect(
            receivers.on_evidence_recorded, dispatch_uid="escalations.evidence_recorded"
        )
        # What the trust API shows of escalations (the statement's open incidents, the
        # signals an evaluation or a dispute raised) comes from these providers.
        from trust.api import hooks

        from . import selectors

        hooks.register_open_incidents_provider(selectors.incident_summaries_open_for_agent)
        hooks.register_signals_provider(selectors.signal_summaries_for_source_key)
