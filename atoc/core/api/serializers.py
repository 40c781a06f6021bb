"""Input serializers that accept exactly the JSON the OpenAPI schema documents.

DRF is lenient on input: ``"5"`` and ``5.0`` pass as integers, ``1`` and ``"yes"``
as booleans, numbers as strings, leading spaces are trimmed, a pattern ending in
``$`` accepts a trailing newline, and any ISO 8601-ish date passes as a datetime.
An integration then depends on behaviour the schema does not promise. Subclass
:class:`InputSerializer` for every request body: each field accepts only its JSON
type, strings are kept as sent (no trimming), patterns must match the whole
value, and date-times must be RFC 3339 with a time zone.
"""

import re
from collections.abc import Mapping

from rest_framework import serializers

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
RFC3339_MESSAGE = "Use an RFC 3339 date-time with a time zone, e.g. 2026-01-31T09:30:00Z."


def is_rfc3339(value) -> bool:
    """Whether ``value`` is an RFC 3339 date-time string (time zone required)."""
    return isinstance(value, str) and RFC3339.fullmatch(value) is not None


def _choice_type(field: serializers.ChoiceField):
    keys = list(field.choices)
    if keys and all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
        return int
    return str


def json_type_error(field: serializers.Field, value):
    """Why ``value`` is not of the JSON type ``field`` documents, or None.

    Returns a message, or for a list field ``{index: [message]}``.
    """
    if value is None:
        return None  # the field's own allow_null rule answers
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "Must be an integer."
    if isinstance(field, serializers.FloatField):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "Must be a number."
    if isinstance(field, serializers.ChoiceField):
        expected = _choice_type(field)
        ok = isinstance(value, expected) and not isinstance(value, bool)
        return None if ok else f"Must be one of the listed {expected.__name__} values."
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return None  # DRF answers "Expected a list of items"
        for index, item in enumerate(value):
            problem = json_type_error(field.child, item)
            if problem:
                return {index: [problem] if isinstance(problem, str) else problem}
        return None
    if isinstance(field, serializers.DateTimeField):
        return None if is_rfc3339(value) else RFC3339_MESSAGE
    if isinstance(field, serializers.CharField | serializers.DecimalField):
        if not isinstance(value, str):
            return "Must be a string."
        if not _encodable(value):
            return "Must be valid Unicode (no lone surrogates)."
        for validator in getattr(field, "validators", []):
            regex = getattr(validator, "regex", None)
            if regex is not None and not getattr(validator, "inverse_match", False):
                match = regex.search(value)
                if match is None or match.end() != len(value):
                    return "Does not match the required pattern."
        return None
    return None


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class InputSerializer(serializers.Serializer):
    """A request body serializer strict about JSON types (see the module docstring)."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            _keep_whitespace(field)
        return fields

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {}
            for name, field in self.fields.items():
                if field.read_only or name not in data:
                    continue
                problem = json_type_error(field, data[name])
                if problem:
                    errors[name] = [problem] if isinstance(problem, str) else problem
            if errors:
                raise serializers.ValidationError(errors)
            data = {**data, **_normalised_datetimes(self.fields, data)}
        return super().to_internal_value(data)


def _normalised_datetimes(fields, data) -> dict:
    # RFC 3339 allows a lower-case "t" and "z"; Django's parser wants them upper-case.
    return {
        name: data[name].upper()
        for name, field in fields.items()
        if isinstance(field, serializers.DateTimeField) and isinstance(data.get(name), str)
    }


def _keep_whitespace(field: serializers.Field) -> None:
    if isinstance(field, serializers.CharField):
        field.trim_whitespace = False
    child = getattr(field, "child", None)
    if isinstance(child, serializers.Field) and not isinstance(child, serializers.Serializer):
        _keep_whitespace(child)
