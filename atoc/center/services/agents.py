"""What operators do to an agent from its page: restrict, suspend, restore.

Each action is a Decision on the agent (with its rationale and who decided),
recorded by ``escalations.services.decisions.agent_decide``, which applies the
consequence to the agent's status, autonomy and routing in the same transaction.
"""

from __future__ import annotations

from django.db import transaction

from atoc.center.access import authorize
from atoc.center.choices import AgentAction
from atoc.core.exceptions import ValidationFailed
from escalations.choices import IncidentConsequence
from escalations.models import Decision
from escalations.services.decisions import agent_decide
from trust.models import Agent

PERMISSION = "trust.change_agent"

ACTION_CONSEQUENCES = {
    AgentAction.RESTRICT: IncidentConsequence.RESTRICT_AUTONOMY,
    AgentAction.SUSPEND: IncidentConsequence.SUSPEND,
    AgentAction.RESTORE: IncidentConsequence.RESTORE,
}


@transaction.atomic
def agent_act(*, agent: Agent, action: str, rationale: str, actor) -> Decision:
    """Restrict, suspend or restore ``agent`` with a rationale; return the Decision.

    Refused for a viewer, for an operator outside the agent's team, and when the
    agent is already in the state the action leads to.
    """
    if action not in ACTION_CONSEQUENCES:
        raise ValidationFailed(
            f"Unknown action {action!r}; use one of {', '.join(AgentAction.values)}.",
            field="action",
        )
    authorize(
        actor,
        permission=PERMISSION,
        team_ids=[agent.team_id],
        what=f"{action} agent {agent.slug}",
    )
    return agent_decide(
        agent=agent, consequence=ACTION_CONSEQUENCES[action], rationale=rationale, actor=actor
    )
