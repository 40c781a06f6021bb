"""Run a model's field validation and raise a :class:`DomainError` naming the field."""

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models

from .exceptions import ValidationFailed


def clean_or_raise(instance: models.Model, *, exclude: list[str] | None = None) -> None:
    """``full_clean`` the instance; turn the first error into ``ValidationFailed``."""
    try:
        instance.full_clean(exclude=exclude)
    except DjangoValidationError as exc:
        raise as_domain_error(exc) from exc


def as_domain_error(exc: DjangoValidationError) -> ValidationFailed:
    """Convert Django's ValidationError (possibly per field) into one domain error."""
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.error_dict.items()))
        message = "; ".join(m for e in errors for m in e.messages)
        return ValidationFailed(message, field=None if field == NON_FIELD_ERRORS else field)
    return ValidationFailed("; ".join(exc.messages))
