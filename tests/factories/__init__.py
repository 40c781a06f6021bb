"""factory_boy factories, one module per app. Prefer services for anything with rules."""

from .escalations import CounterpartFactory, RoutingRuleFactory, SilenceFactory
from .trust import (
    AgentFactory,
    DisputeFactory,
    EvaluationFactory,
    EvaluationResultFactory,
    ObligationFactory,
    PactFactory,
    PactVersionFactory,
    ScoreFactory,
    TeamFactory,
    UserFactory,
)

__all__ = [
    "AgentFactory",
    "CounterpartFactory",
    "DisputeFactory",
    "EvaluationFactory",
    "EvaluationResultFactory",
    "ObligationFactory",
    "PactFactory",
    "PactVersionFactory",
    "RoutingRuleFactory",
    "ScoreFactory",
    "SilenceFactory",
    "TeamFactory",
    "UserFactory",
]
