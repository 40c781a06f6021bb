"""escalations models, one module per aggregate."""

from .controls import Control
from .counterparts import Counterpart
from .incidents import Decision, Escalation, Incident, TimelineEntry
from .jobs import JobHeartbeat
from .ladder import LadderSnapshot, SeverityLevel
from .notifications import Notification
from .risk import RiskAcceptance
from .routing import RoutingRule
from .signals import Signal
from .silences import Silence

__all__ = [
    "Control",
    "Counterpart",
    "Decision",
    "Escalation",
    "Incident",
    "JobHeartbeat",
    "LadderSnapshot",
    "Notification",
    "RiskAcceptance",
    "RoutingRule",
    "SeverityLevel",
    "Signal",
    "Silence",
    "TimelineEntry",
]
