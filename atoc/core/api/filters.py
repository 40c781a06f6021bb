"""A FilterSet that refuses query values its schema does not allow.

django-filter quietly ignores a boolean filter given ``null`` or ``maybe``, an
empty date, or an unparseable value in some widgets — the list comes back
unfiltered, which reads as an answer. :class:`StrictFilterSet` answers 400 naming
the parameter instead: booleans are ``true`` or ``false``, non-text filters need
a value, date-times are RFC 3339. Date-times are compared in UTC (PostgreSQL
refuses offsets beyond ±15:59), and a bound beyond what Python can hold in UTC
(year 1 or 9999 with an offset) becomes the earliest or latest instant.
"""

from datetime import UTC, datetime

import django_filters

from .serializers import RFC3339_MESSAGE, is_rfc3339

BOOLEAN_VALUES = frozenset({"true", "false"})


class StrictFilterSet(django_filters.FilterSet):
    """Base FilterSet for API lists (see the module docstring)."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, filter_ in self.filters.items():
            if name not in self.data:
                continue
            raw = self.data.get(name)
            problem = _problem(filter_, raw)
            if problem:
                if name in self.form.errors:
                    continue
                self.form.add_error(name, problem)
                valid = False
        valid = valid and not self.form.errors
        if valid:
            for name, value in list(self.form.cleaned_data.items()):
                if isinstance(value, datetime) and value.tzinfo is not None:
                    self.form.cleaned_data[name] = in_utc(value)
        return valid


def in_utc(value: datetime) -> datetime:
    """``value`` in UTC, clamped to the representable range."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return (
            datetime.min.replace(tzinfo=UTC)
            if value.year == 1
            else datetime.max.replace(tzinfo=UTC)
        )


def _problem(filter_, raw: str) -> str | None:
    if isinstance(filter_, django_filters.CharFilter):
        return None
    if raw == "":
        return "Give a value, or leave the parameter out."
    if isinstance(filter_, django_filters.BooleanFilter) and raw not in BOOLEAN_VALUES:
        return "Use true or false."
    if isinstance(filter_, django_filters.IsoDateTimeFilter) and not is_rfc3339(raw):
        return RFC3339_MESSAGE
    return None
