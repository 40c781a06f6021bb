"""Refusals of the center's services (``DomainError`` subclasses)."""

from atoc.core.exceptions import DomainError


class NotPermitted(DomainError):
    """The actor's role does not allow this action (a viewer acting, for instance)."""

    code = "not_permitted"
    status_code = 403


class OutOfScope(DomainError):
    """The actor is limited to some teams and the object belongs to another."""

    code = "out_of_scope"
    status_code = 403
