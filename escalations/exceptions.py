"""Refusals specific to escalations (subclasses of the kernel's DomainError)."""

from atoc.core.exceptions import DomainError, ValidationFailed


class IdempotencyConflict(DomainError):
    """The idempotency key was already used with a different body."""

    code = "idempotency_conflict"
    status_code = 422


class UnknownAgent(ValidationFailed):
    """A signal names an agent that does not exist."""

    code = "unknown_agent"


class IdempotencyInProgress(DomainError):
    """The idempotency key is being used by a request that has not finished yet."""

    code = "idempotency_in_progress"
    status_code = 409


class ConfigurationConflict(DomainError):
    """A change to reference data conflicts with what is stored (a taken slot, a fixed rule)."""

    code = "conflict"
    status_code = 409
