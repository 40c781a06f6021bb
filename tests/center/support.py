"""Helpers for the center's tests: agents on shared components, incidents in the past."""

from datetime import timedelta

from django.utils import timezone

from escalations.services.signals import signal_ingest
from tests.factories import AgentFactory
from trust.services.agents import components_get_or_create

_keys = iter(range(1, 10**9))


def agent_on(team, *components, **fields):
    """An agent of ``team`` built on ``components``."""
    agent = AgentFactory(team=team, **fields)
    if components:
        agent.components.set(components_get_or_create(components))
    return agent


def incident(agent, actor, *, kind="incident_flag", hours_ago=1.0, severity=None, now=None):
    """Open an incident on ``agent`` as if its signal arrived ``hours_ago`` hours ago."""
    at = (now or timezone.now()) - timedelta(hours=hours_ago)
    outcome = signal_ingest(
        agent=agent,
        kind=kind,
        observed_at=at,
        source="tests",
        idempotency_key=f"center-{next(_keys)}",
        severity=severity,
        actor=actor,
        now=at,
    )
    return outcome.incident
