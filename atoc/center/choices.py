"""Enumerations of the center: systemic issues, fleet reviews, feedback and metrics."""

from django.db import models


class SystemicIssueBasis(models.TextChoices):
    """What the incidents of a systemic issue have in common."""

    COMPONENT = "component", "Shared component"
    PACT = "pact", "Shared pact"


class SystemicIssueState(models.TextChoices):
    PROPOSED = "proposed", "Proposed (awaiting an operator)"
    CONFIRMED = "confirmed", "Confirmed (known trust debt)"
    CLOSED = "closed", "Closed (fixed)"
    DISMISSED = "dismissed", "Dismissed (not a pattern)"
    MERGED = "merged", "Merged into another issue"


ACTIVE_ISSUE_STATES = (SystemicIssueState.PROPOSED, SystemicIssueState.CONFIRMED)


class IssueLinkSource(models.TextChoices):
    """How an incident came to be linked to a systemic issue."""

    PROPOSAL = "proposal", "Found when the issue was proposed"
    JOB = "job", "Linked by the job (new incident on the issue)"
    OPERATOR = "operator", "Linked by an operator"
    MERGE = "merge", "Moved here by a merge"


class FleetReviewState(models.TextChoices):
    OPEN = "open", "Open (agents to review)"
    COMPLETED = "completed", "Completed"


class FeedbackSubject(models.TextChoices):
    INCIDENT = "incident", "Incident handling"
    DECISION = "decision", "Decision"
    REVIEW = "review", "Fleet review"


class Metric(models.TextChoices):
    """The five measures of how well the center works (see ``atoc.center.metrics``)."""

    REVIEW_COVERAGE = "review_coverage", "Fleet trust review coverage"
    TIME_TO_DECISION = "time_to_decision", "Time to trust decision"
    ROUTING_ACCURACY = "routing_accuracy", "Escalation routing accuracy"
    REPEAT_ISSUE_RATE = "repeat_issue_rate", "Repeat systemic issue rate"
    OPERATOR_CONFIDENCE = "operator_confidence", "Operator confidence"


class AgentAction(models.TextChoices):
    """What an operator can do to an agent from its page (each one a Decision)."""

    RESTRICT = "restrict", "Restrict autonomy"
    SUSPEND = "suspend", "Suspend"
    RESTORE = "restore", "Restore"
