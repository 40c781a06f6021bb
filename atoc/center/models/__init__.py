"""Center models, one module per aggregate."""

from .access import OperatorScope
from .feedback import Feedback
from .issues import SystemicIssue, SystemicIssueIncident
from .metrics import MetricSnapshot
from .reviews import FleetReview, FleetReviewAgent

__all__ = [
    "Feedback",
    "FleetReview",
    "FleetReviewAgent",
    "MetricSnapshot",
    "OperatorScope",
    "SystemicIssue",
    "SystemicIssueIncident",
]
