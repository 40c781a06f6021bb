"""Domain errors raised by services and translated by the interfaces.

A service refuses bad input or an impossible transition by raising a subclass of
:class:`DomainError`. The admin shows the message (on the named field where there
is one); the API turns it into its JSON error body (400, 404 or 409).
"""


class DomainError(Exception):
    """Base class for every refusal a service can make.

    ``field`` names the input that is wrong, when one is; ``code`` is a stable,
    machine-readable identifier for the API.
    """

    code = "invalid"
    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def as_dict(self) -> dict:
        return {"code": self.code, "field": self.field, "message": self.message}


class ValidationFailed(DomainError):
    """The input does not satisfy a rule of the domain."""

    code = "invalid"
    status_code = 400


class NotFound(DomainError):
    """A referenced object does not exist (or is not visible to the caller)."""

    code = "not_found"
    status_code = 404


class InvalidTransition(DomainError):
    """The requested state change is not allowed from the current state."""

    code = "invalid_transition"
    status_code = 409


class ImmutableRecord(DomainError):
    """Evidence or a published record cannot be changed."""

    code = "immutable"
    status_code = 409


class AlreadyExists(DomainError):
    """An object with this identifier exists already (the API answers 409)."""

    code = "already_exists"
    status_code = 409


class OutOfTeamScope(DomainError):
    """The caller acts for some teams only and the object is another team's or everyone's."""

    code = "out_of_scope"
    status_code = 403
