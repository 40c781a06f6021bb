"""Input checks shared by the trust services, each naming the field it refuses."""

from datetime import datetime

from django.utils import timezone

from atoc.core.exceptions import ValidationFailed


def require_aware(value, *, field: str) -> datetime:
    """``value`` if it is a timezone-aware datetime; refuse anything else."""
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise ValidationFailed("Give a date and time with its time zone.", field=field)
    return value


def require_max_length(value: str, *, field: str, limit: int) -> str:
    """``value`` if it fits a column of ``limit`` characters; refuse it otherwise."""
    if len(value) > limit:
        raise ValidationFailed(f"Too long ({limit} characters at most).", field=field)
    return value
