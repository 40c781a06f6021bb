"""Enumerations of the escalations domain."""

from django.db import models


class SignalKind(models.TextChoices):
    PACT_BREACH = "pact_breach", "Pact breach"
    SCORE_DROP = "score_drop", "Score drop"
    EVALUATION_STALE = "evaluation_stale", "Evaluation stale"
    INCIDENT_FLAG = "incident_flag", "Incident flag"
    SETTLEMENT_DISPUTE = "settlement_dispute", "Settlement dispute"
    CUSTOM = "custom", "Custom"


class CounterpartFunction(models.TextChoices):
    PLATFORM = "platform", "Platform"
    SECURITY = "security", "Security"
    PRODUCT = "product", "Product"
    BUSINESS = "business", "Business"
    FINANCE = "finance", "Finance"
    LEADERSHIP = "leadership", "Leadership"


class CounterpartKind(models.TextChoices):
    PERSON = "person", "Person"
    ROTATION = "rotation", "Rotation"


class WebhookFormat(models.TextChoices):
    ATOC = "atoc", "ATOC JSON"
    SLACK = "slack", "Slack incoming webhook"


class IncidentState(models.TextChoices):
    """The action state: what the incident is waiting for."""

    OPEN = "open", "Open (awaiting acknowledgement)"
    ACKNOWLEDGED = "acknowledged", "Acknowledged (awaiting decision)"
    DECIDED = "decided", "Decided (awaiting resolution)"
    RESOLVED = "resolved", "Resolved"


class IncidentConsequence(models.TextChoices):
    """What a decision does to the agent (see ``services.consequences.CONSEQUENCE_EFFECTS``)."""

    MONITOR = "monitor", "Monitor (no change)"
    REQUIRE_REVIEW = "require_review", "Require review"
    RESTRICT_AUTONOMY = "restrict_autonomy", "Restrict autonomy"
    REROUTE = "reroute", "Reroute to shadow"
    SUSPEND = "suspend", "Suspend"
    RESTORE = "restore", "Restore"


class EscalationReason(models.TextChoices):
    DEADLINE_PASSED = "deadline_passed", "Acknowledgement deadline passed"
    DECISION_OVERDUE = "decision_overdue", "Decision deadline passed"
    NEW_EVIDENCE = "new_evidence", "New evidence"
    MANUAL = "manual", "Escalated manually"
    REMINDER = "reminder", "Reminder at the top level"


class RiskAcceptanceState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class NotificationState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"


class SilenceRecurrence(models.TextChoices):
    NONE = "none", "One-off"
    DAILY = "daily", "Every day"
    WEEKLY = "weekly", "Every week"


class TimelineKind(models.TextChoices):
    """What happened to an incident; one row per transition, written by the service."""

    OPENED = "OPENED", "Opened"
    SIGNAL_JOINED = "SIGNAL_JOINED", "Signal joined"
    ROUTED = "ROUTED", "Routed"
    ACKNOWLEDGED = "ACKNOWLEDGED", "Acknowledged"
    ASSIGNED = "ASSIGNED", "Assigned"
    PROMOTED = "PROMOTED", "Promoted"
    REMINDED = "REMINDED", "Reminded"
    NOTIFICATION_QUEUED = "NOTIFICATION_QUEUED", "Notification queued"
    NOTIFIED = "NOTIFIED", "Counterpart notified"
    NOTIFICATION_FAILED = "NOTIFICATION_FAILED", "Notification failed (gave up)"
    NOTIFICATION_RETRIED = "NOTIFICATION_RETRIED", "Notification retried"
    DECIDED = "DECIDED", "Decided"
    CONSEQUENCE_APPLIED = "CONSEQUENCE_APPLIED", "Consequence applied"
    RESOLVED = "RESOLVED", "Resolved"
    REROUTED = "REROUTED", "Rerouted"
    RISK_ACCEPTANCE_REQUESTED = "RISK_ACCEPTANCE_REQUESTED", "Risk acceptance requested"
    RISK_ACCEPTED = "RISK_ACCEPTED", "Risk accepted"
    RISK_ACCEPTANCE_REJECTED = "RISK_ACCEPTANCE_REJECTED", "Risk acceptance rejected"
    RISK_EXPIRED = "RISK_EXPIRED", "Risk acceptance expired"
    REOPENED = "REOPENED", "Reopened"
    ESCALATED_MANUALLY = "ESCALATED_MANUALLY", "Escalated manually"
