"""trust models, one module per aggregate."""

from .agents import Agent, Component, Team
from .disputes import Dispute
from .evaluations import Evaluation, EvaluationResult
from .pacts import Obligation, Pact, PactVersion
from .scores import Score

__all__ = [
    "Agent",
    "Component",
    "Dispute",
    "Evaluation",
    "EvaluationResult",
    "Obligation",
    "Pact",
    "PactVersion",
    "Score",
    "Team",
]
