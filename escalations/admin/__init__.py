"""Admin for escalations: a thin interface over the escalations services and selectors.

Incidents are acted on through changelist actions that call the services row by
row and report every success and refusal. Signals, escalations, decisions, the
timeline and notifications are evidence: viewed, never changed or deleted. The
ladder, counterparts, controls, routing rules and silences are reference data that
operators edit, each change kept in history. Nothing is deleted here. One module per
concern; importing them registers the model admins.
"""

from escalations.admin import evidence, incidents, jobs, reference, risk

__all__ = ["evidence", "incidents", "jobs", "reference", "risk"]
