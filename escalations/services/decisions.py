"""Decisions on an agent taken without an incident (restrict, suspend, restore from its page).

A decision on an incident is :func:`escalations.services.incidents.incident_decide`.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from atoc.core.exceptions import InvalidTransition, ValidationFailed
from escalations.choices import IncidentConsequence
from escalations.models import Decision
from escalations.services.consequences import consequence_apply
from trust.models import Agent


@transaction.atomic
def agent_decide(*, agent: Agent, consequence: str, rationale: str, actor) -> Decision:
    """Decide on ``agent`` directly: apply ``consequence`` and record the Decision.

    The agent's status, autonomy and routing change in the same transaction, with
    a history row naming the actor and the rationale. A decision that would change
    nothing (the agent is already suspended, say) is refused, so a form posted twice
    records one decision.
    """
    if consequence not in IncidentConsequence.values or consequence == IncidentConsequence.MONITOR:
        choices = [c for c in IncidentConsequence.values if c != IncidentConsequence.MONITOR]
        raise ValidationFailed(
            f"Unknown consequence {consequence!r}; use one of {', '.join(choices)}.",
            field="consequence",
        )
    rationale = (rationale or "").strip()
    if not rationale:
        raise ValidationFailed("Give the rationale for the decision.", field="rationale")
    label = IncidentConsequence(consequence).label
    before, after = consequence_apply(
        agent_id=agent.pk,
        consequence=consequence,
        actor=actor,
        reason=f"Decision on the agent: {label}: {rationale}",
    )
    if before == after:
        raise InvalidTransition(
            f"Agent {agent.slug} is already {after['status']} "
            f"(autonomy {after['autonomy']}, routing {after['routing']}): nothing to change.",
            field="consequence",
        )
    return Decision.objects.create(
        incident=None,
        agent_id=agent.pk,
        consequence=consequence,
        rationale=rationale,
        actor=actor,
        decided_at=timezone.now(),
        agent_before=before,
        agent_after=after,
    )
