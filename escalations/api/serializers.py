"""Input serializers (shape only, handed to services) and output serializers (fed by selectors).

Every request body here refuses fields it does not document (400 naming each), and
the schema says so (``additionalProperties: false``). Agents and teams are named
by slug, severity levels by name, counterparts, incidents and signals by id;
durations are integers of seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from atoc.core.api.serializers import RFC3339_MESSAGE, InputSerializer, is_rfc3339
from escalations.choices import (
    CounterpartFunction,
    CounterpartKind,
    IncidentConsequence,
    IncidentState,
    SignalKind,
    WebhookFormat,
)
from escalations.models import Control, Counterpart, RoutingRule, SeverityLevel
from escalations.models.signals import IDEMPOTENCY_KEY_MAX
from escalations.services.signal_input import BULK_MAX_ITEMS, SOURCE_MAX_LENGTH
from trust.api.serializers import OptionalPatternField, seconds, window_field

# Text that is more than whitespace, without NUL (PostgreSQL cannot store it).
NON_BLANK_PATTERN = r"^\s*[^\x00\s][^\x00]*$"
NON_BLANK_MESSAGE = "Must contain more than whitespace (and no NUL character)."
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
LEVEL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,16}$"
# Strict subsets of what Django's EmailValidator and URLValidator accept, so a
# value the schema allows is never refused by the model.
_HOST = r"([A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?\.){1,4}[A-Za-z]{2,24}"
_PORT = (
    r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?"
)
EMAIL_PATTERN = rf"^([A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*@{_HOST})?$"
WEBHOOK_URL_PATTERN = rf"^(https?://{_HOST}{_PORT}(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?)?$"
MAX_TEXT = 10_000
MAX_NOTE = 1_000


def non_blank_field(*, max_length: int, **kwargs) -> serializers.RegexField:
    """A required string that holds more than whitespace (and no NUL)."""
    return serializers.RegexField(
        NON_BLANK_PATTERN,
        max_length=max_length,
        error_messages={"invalid": NON_BLANK_MESSAGE},
        **kwargs,
    )


def reason_field() -> serializers.CharField:
    """The optional ``reason`` of a configuration change, kept in its history row."""
    return serializers.CharField(
        required=False,
        max_length=100,
        allow_blank=True,
        help_text="Why the change is made (recorded in the history).",
    )


class StrictInputSerializer(InputSerializer):
    """An :class:`InputSerializer` that refuses undocumented fields, naming each.

    ``schema_any_of`` (optional) documents a rule across fields as the schema's
    ``anyOf`` (e.g. "an email or a webhook URL").
    """

    schema_any_of: list[dict] | None = None

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in unknown}, code="unknown_field"
                )
        return super().to_internal_value(data)


class StrictInputSerializerExtension(OpenApiSerializerExtension):
    """Documents what :class:`StrictInputSerializer` enforces: no additional properties."""

    target_class = StrictInputSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        if not type(self.target).__dict__.get("__doc__"):
            schema.pop("description", None)  # not the base class's docstring
        if direction == "request":
            schema["additionalProperties"] = False
            if self.target.schema_any_of and not getattr(self.target, "partial", False):
                schema["anyOf"] = self.target.schema_any_of
        return schema


# --- signals ---------------------------------------------------------------------------


class SignalInputSerializer(StrictInputSerializer):
    """One signal; ``(source, idempotency_key)`` identifies it."""

    # A bulk request validates up to a thousand of these, so to_internal_value checks
    # the fields by hand (the declared fields document the schema, and the checks
    # answer what they promise): DRF's per-field machinery costs more than storing
    # the signals does.

    agent = serializers.SlugField(max_length=100, help_text="The agent's slug.")
    kind = serializers.ChoiceField(choices=SignalKind.choices)
    observed_at = serializers.DateTimeField(help_text="When it was observed (RFC 3339).")
    value = serializers.FloatField(
        required=False, allow_null=True, help_text="The measurement, if any."
    )
    source = non_blank_field(
        max_length=SOURCE_MAX_LENGTH, help_text="Who sends it, e.g. eval-runner."
    )
    idempotency_key = non_blank_field(
        max_length=IDEMPOTENCY_KEY_MAX,
        help_text="Unique per source: a replay with the same body returns the first result.",
    )
    payload = serializers.DictField(
        required=False,
        help_text="Free JSON object (at most 64 KiB).",
        child=serializers.JSONField(),
    )

    _KINDS = frozenset(SignalKind.values)
    _SLUG = re.compile(SLUG_PATTERN)
    _TEXT = re.compile(NON_BLANK_PATTERN)

    def _read_only_defaults(self):
        # No field here is read-only, so there are no defaults to add before the
        # validators run; DRF would build the bound fields to find that out.
        return {}

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": ["Each signal must be a JSON object."]}, code="invalid"
            )
        errors: dict[str, list[str]] = {}
        # The declared names, not ``self.fields``: building the bound fields deep-copies
        # every declared field, which a single-signal request would pay for nothing.
        for name in sorted(str(n) for n in set(data) - self._declared_fields.keys()):
            errors[name] = ["Unknown field."]
        for name in ("agent", "kind", "observed_at", "source", "idempotency_key"):
            if name not in data:
                errors[name] = ["This field is required."]

        agent = data.get("agent")
        if "agent" in data and not (
            isinstance(agent, str) and len(agent) <= 100 and self._SLUG.fullmatch(agent)
        ):
            errors["agent"] = ["Must be the agent's slug (letters, digits, - and _)."]
        kind = data.get("kind")
        if "kind" in data and not (isinstance(kind, str) and kind in self._KINDS):
            errors["kind"] = [f"Must be one of {', '.join(SignalKind.values)}."]
        observed_at = None
        if "observed_at" in data:
            observed_at, problem = _parse_datetime(data["observed_at"])
            if problem:
                errors["observed_at"] = [problem]
        for name, limit in (
            ("source", SOURCE_MAX_LENGTH),
            ("idempotency_key", IDEMPOTENCY_KEY_MAX),
        ):
            text = data.get(name)
            if name not in data:
                continue
            if not isinstance(text, str):
                errors[name] = ["Must be a string."]
            elif len(text) > limit:
                errors[name] = [f"At most {limit} characters."]
            elif not self._TEXT.fullmatch(text) or not _encodable(text):
                errors[name] = [NON_BLANK_MESSAGE]
        value = data.get("value")
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not _finite_float(value)
        ):
            errors["value"] = ["Must be a finite number or null."]
        payload = data.get("payload")
        if payload is not None:
            problem = _json_problem(payload) if isinstance(payload, dict) else "Must be an object."
            if problem:
                errors["payload"] = [problem]
        if errors:
            raise serializers.ValidationError(errors)
        return {
            "agent": agent,
            "kind": kind,
            "observed_at": observed_at,
            "value": None if value is None else float(value),
            "source": data["source"],
            "idempotency_key": data["idempotency_key"],
            "payload": payload or {},
        }


def _parse_datetime(raw) -> tuple[datetime | None, str | None]:
    if not is_rfc3339(raw):
        return None, RFC3339_MESSAGE
    try:
        value = datetime.fromisoformat(raw.upper())
        value.astimezone(UTC)
    except (ValueError, OverflowError):
        return None, "Not a valid date and time (or out of range)."
    return value, None


def _finite_float(value) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_problem(value, depth: int = 0) -> str | None:
    """Why a payload cannot be stored as JSON in PostgreSQL (NUL, lone surrogates), or None."""
    if isinstance(value, str):
        if "\x00" in value or not _encodable(value):
            return "Strings may not hold NUL characters or lone surrogates."
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "Numbers must be finite."
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _json_problem(key, depth + 1) or _json_problem(item, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = _json_problem(item, depth + 1)
            if problem:
                return problem
    return None


class SignalBodySerializer(serializers.Serializer):
    """Documentation only: the body of ``POST /signals/`` is one signal or a list of them."""


class SignalResultSerializer(serializers.Serializer):
    """What became of one posted signal."""

    id = serializers.IntegerField(help_text="The signal's id.")
    incident = serializers.IntegerField(
        allow_null=True,
        help_text="The incident it joined or opened (null: no control acted on it, or silenced).",
    )
    suppressed = serializers.BooleanField(help_text="Stored inside a silence: opened nothing.")


class SignalResultsSerializer(serializers.Serializer):
    """Documentation only: one result, or a list in the order of the request."""


class _OneOrManyExtension(OpenApiSerializerExtension):
    item: type[serializers.Serializer]

    def map_serializer(self, auto_schema, direction):
        ref = auto_schema.resolve_serializer(self.item, direction).ref
        many = {"type": "array", "items": ref}
        if direction == "request":
            many.update(minItems=1, maxItems=BULK_MAX_ITEMS)
        return {"oneOf": [ref, many]}


class SignalBodyExtension(_OneOrManyExtension):
    target_class = SignalBodySerializer
    item = SignalInputSerializer


class SignalResultsExtension(_OneOrManyExtension):
    target_class = SignalResultsSerializer
    item = SignalResultSerializer


class SignalOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    agent = serializers.SlugField(source="agent.slug")
    kind = serializers.ChoiceField(choices=SignalKind.choices)
    observed_at = serializers.DateTimeField()
    value = serializers.FloatField(allow_null=True)
    source = serializers.CharField()
    idempotency_key = serializers.CharField()
    payload = serializers.DictField(child=serializers.JSONField())
    pact = serializers.IntegerField(source="pact_id", allow_null=True, help_text="Pact id.")
    received_at = serializers.DateTimeField()
    incident = serializers.IntegerField(source="incident_id", allow_null=True)
    suppressed = serializers.BooleanField()


# --- incidents -------------------------------------------------------------------------


class CounterpartBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    function = serializers.ChoiceField(choices=CounterpartFunction.choices)


class IncidentOutputSerializer(serializers.Serializer):
    """An incident.

    Fed by the rows of ``selectors.incident_rows``, with ``counterparts`` (from
    ``selectors.incident_counterparts_brief``) and ``systemic_issues`` (from the
    center, see ``escalations.api.hooks``) for the page in the context.
    """

    id = serializers.IntegerField()
    agent = serializers.SlugField(source="agent.slug")
    kind = serializers.ChoiceField(choices=SignalKind.choices)
    severity = serializers.CharField(source="severity.name", help_text="Level name, e.g. SEV1.")
    state = serializers.ChoiceField(choices=IncidentState.choices)
    opened_at = serializers.DateTimeField()
    ack_due_at = serializers.DateTimeField(
        allow_null=True, help_text="Climbs the ladder if still unacknowledged then."
    )
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    decision_due_at = serializers.DateTimeField(
        allow_null=True, help_text="Climbs the ladder if acknowledged but undecided then."
    )
    decided_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    owner = serializers.CharField(
        source="owner.username", allow_null=True, help_text="Username of the owner, or null."
    )
    counterparts = CounterpartBriefSerializer(many=True, help_text="Who it is routed to now.")
    signal_count = serializers.IntegerField()
    systemic_issue = serializers.SerializerMethodField()

    @extend_schema_field(
        serializers.IntegerField(
            allow_null=True, help_text="Id of the systemic issue the center linked it to."
        )
    )
    def get_systemic_issue(self, row: dict) -> int | None:
        return self.context.get("systemic_issues", {}).get(row["id"])

    def to_representation(self, instance: dict):
        # Written out (the fields above document it): a page is 50 plain rows, and
        # DRF's per-field machinery would cost more than reading the page did.
        row = instance
        issues = self.context.get("systemic_issues", {})
        counterparts = self.context.get("counterparts", {})
        return {
            "id": row["id"],
            "agent": row["agent_slug"],
            "kind": row["kind"],
            "severity": row["severity_name"],
            "state": row["state"],
            "opened_at": _datetime(row["opened_at"]),
            "ack_due_at": _datetime(row["ack_due_at"]),
            "acknowledged_at": _datetime(row["acknowledged_at"]),
            "decision_due_at": _datetime(row["decision_due_at"]),
            "decided_at": _datetime(row["decided_at"]),
            "resolved_at": _datetime(row["resolved_at"]),
            "owner": row["owner_username"],
            "counterparts": counterparts.get(row["id"], []),
            "signal_count": row["signal_count"],
            "systemic_issue": issues.get(row["id"]),
        }


_DATETIME = serializers.DateTimeField()


def _datetime(value) -> str | None:
    """A date-time as every DRF field writes it (UTC, ``Z``)."""
    return None if value is None else _DATETIME.to_representation(value)


class IncidentAcknowledgeInputSerializer(StrictInputSerializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_NOTE)


class IncidentDecideInputSerializer(StrictInputSerializer):
    consequence = serializers.ChoiceField(
        choices=IncidentConsequence.choices, help_text="What the decision does to the agent."
    )
    rationale = non_blank_field(max_length=MAX_TEXT)


class IncidentResolveInputSerializer(StrictInputSerializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_NOTE)


class IncidentEscalateInputSerializer(StrictInputSerializer):
    reason = non_blank_field(max_length=MAX_NOTE, help_text="Why it climbs one level by hand.")


# --- severity levels -------------------------------------------------------------------


class RemindersSerializer(serializers.Serializer):
    max = serializers.IntegerField(source="max_reminders")
    interval_seconds = serializers.SerializerMethodField()

    def get_interval_seconds(self, level: SeverityLevel) -> int | None:
        return seconds(level.reminder_interval)


class SeverityLevelOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    rank = serializers.IntegerField(help_text="Higher is more severe.")
    description = serializers.CharField()
    ack_deadline_seconds = serializers.SerializerMethodField()
    decision_deadline_seconds = serializers.SerializerMethodField()
    notify_functions = serializers.ListField(
        child=serializers.ChoiceField(choices=CounterpartFunction.choices)
    )
    leadership_visible = serializers.BooleanField()
    automatic_consequence = serializers.ChoiceField(
        choices=IncidentConsequence.choices, allow_null=True
    )
    reminders = RemindersSerializer(source="*", help_text="At the top level of the ladder.")

    def get_ack_deadline_seconds(self, level: SeverityLevel) -> int:
        return seconds(level.ack_deadline)

    def get_decision_deadline_seconds(self, level: SeverityLevel) -> int:
        return seconds(level.decision_deadline)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["automatic_consequence"] = data["automatic_consequence"] or None
        return data


class RemindersInputSerializer(StrictInputSerializer):
    max = serializers.IntegerField(min_value=1, max_value=1000, help_text="How many reminders.")
    interval_seconds = window_field(help_text="Time between reminders.")


class SeverityLevelInputSerializer(StrictInputSerializer):
    name = serializers.RegexField(LEVEL_NAME_PATTERN, help_text="e.g. SEV1.")
    rank = serializers.IntegerField(
        min_value=1, max_value=32767, help_text="Higher is more severe."
    )
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200
    )
    ack_deadline_seconds = window_field(
        help_text="How long an incident may stay unacknowledged before it climbs."
    )
    decision_deadline_seconds = window_field(
        help_text="How long an acknowledged incident may stay undecided before it climbs."
    )
    notify_functions = serializers.ListField(
        child=serializers.ChoiceField(choices=CounterpartFunction.choices),
        required=False,
        default=list,
        max_length=len(CounterpartFunction.values),
    )
    leadership_visible = serializers.BooleanField(required=False, default=False)
    automatic_consequence = serializers.ChoiceField(
        choices=IncidentConsequence.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="Applied to the agent when an incident reaches this level.",
    )
    reminders = RemindersInputSerializer(
        required=False,
        allow_null=True,
        default=None,
        help_text="At the top level: how many reminders, how often (null: none).",
    )
    reason = reason_field()


# --- controls --------------------------------------------------------------------------


class ConditionSerializer(serializers.Serializer):
    threshold = serializers.FloatField(
        allow_null=True, help_text="Smallest value that triggers; null: every signal triggers."
    )


class ControlOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    signal_kind = serializers.ChoiceField(choices=SignalKind.choices)
    condition = serializers.SerializerMethodField()
    opening_severity = serializers.CharField(source="opening_severity.name")
    owner = CounterpartBriefSerializer()
    consequence = serializers.ChoiceField(
        choices=IncidentConsequence.choices, help_text="The default decision."
    )
    review_cadence_seconds = serializers.SerializerMethodField()
    last_reviewed_at = serializers.DateTimeField(allow_null=True)
    enabled = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(ConditionSerializer)
    def get_condition(self, control: Control) -> dict:
        return {"threshold": control.threshold}

    def get_review_cadence_seconds(self, control: Control) -> int:
        return seconds(control.review_cadence)


class ConditionInputSerializer(StrictInputSerializer):
    threshold = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text="Smallest value that triggers (for score_drop: points); null: every signal.",
    )


class ControlInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_TEXT
    )
    signal_kind = serializers.ChoiceField(choices=SignalKind.choices)
    condition = ConditionInputSerializer(required=False, default=dict)
    opening_severity = serializers.RegexField(
        LEVEL_NAME_PATTERN, help_text="Name of the level incidents open at."
    )
    owner = serializers.IntegerField(min_value=1, help_text="Id of the owning counterpart.")
    consequence = serializers.ChoiceField(
        choices=IncidentConsequence.choices, help_text="The default decision."
    )
    review_cadence_seconds = window_field(required=False, default=90 * 86400)
    enabled = serializers.BooleanField(required=False, default=True)
    reason = reason_field()


# --- counterparts ----------------------------------------------------------------------


class CounterpartOutputSerializer(serializers.Serializer):
    """A counterpart; its webhook signing secret is never shown."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    function = serializers.ChoiceField(choices=CounterpartFunction.choices)
    kind = serializers.ChoiceField(choices=CounterpartKind.choices)
    team = serializers.SlugField(source="team.slug", allow_null=True)
    email = serializers.CharField()
    webhook_url = serializers.CharField()
    webhook_format = serializers.ChoiceField(choices=WebhookFormat.choices)
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def to_representation(self, instance: Counterpart):
        data = super().to_representation(instance)
        if instance.team_id is None:
            data["team"] = None
        return data


@extend_schema_field({"type": "string", "maxLength": 254, "pattern": EMAIL_PATTERN})
class EmailAddressField(OptionalPatternField):
    """An email address, or empty."""

    def __init__(self, **kwargs):
        super().__init__(max_length=254, **kwargs)
        self.validators.append(RegexValidator(EMAIL_PATTERN, "Enter a valid email address."))


@extend_schema_field({"type": "string", "maxLength": 500, "pattern": WEBHOOK_URL_PATTERN})
class WebhookUrlField(OptionalPatternField):
    """An http(s) URL with a host name, or empty."""

    def __init__(self, **kwargs):
        super().__init__(max_length=500, **kwargs)
        self.validators.append(RegexValidator(WEBHOOK_URL_PATTERN, "Enter an http(s) URL."))


class CounterpartInputSerializer(StrictInputSerializer):
    schema_any_of = [
        {"required": ["email"], "properties": {"email": {"minLength": 1}}},
        {"required": ["webhook_url"], "properties": {"webhook_url": {"minLength": 1}}},
    ]

    name = serializers.CharField(max_length=120)
    function = serializers.ChoiceField(choices=CounterpartFunction.choices)
    kind = serializers.ChoiceField(
        choices=CounterpartKind.choices, required=False, default=CounterpartKind.ROTATION
    )
    team = serializers.SlugField(
        max_length=64,
        required=False,
        allow_null=True,
        default=None,
        help_text="Slug of the team it serves; null: every team.",
    )
    email = EmailAddressField(required=False, default="")
    webhook_url = WebhookUrlField(required=False, default="")
    webhook_format = serializers.ChoiceField(
        choices=WebhookFormat.choices, required=False, default=WebhookFormat.ATOC
    )
    active = serializers.BooleanField(required=False, default=True)
    reason = reason_field()


# --- routing rules ---------------------------------------------------------------------


class RoutingRuleOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    order = serializers.IntegerField()
    kind = serializers.ChoiceField(
        choices=SignalKind.choices, allow_null=True, help_text="null: any kind."
    )
    team = serializers.SlugField(source="team.slug", allow_null=True, help_text="null: any team.")
    tier = serializers.IntegerField(allow_null=True, help_text="null: any tier.")
    min_severity = serializers.CharField(
        source="min_severity.name", allow_null=True, help_text="This level or above; null: any."
    )
    counterparts = CounterpartBriefSerializer(many=True)
    is_default = serializers.BooleanField(help_text="The fallback route when nothing matches.")
    created_at = serializers.DateTimeField()

    def to_representation(self, instance: RoutingRule):
        data = super().to_representation(instance)
        data["kind"] = data["kind"] or None
        if instance.team_id is None:
            data["team"] = None
        if instance.min_severity_id is None:
            data["min_severity"] = None
        return data


class RoutingRuleInputSerializer(StrictInputSerializer):
    """A rule's criteria (null: any) and counterparts; the default rule is set in the admin."""

    name = serializers.CharField(max_length=120)
    order = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False, default=100)
    kind = serializers.ChoiceField(
        choices=SignalKind.choices, required=False, allow_null=True, default=None
    )
    team = serializers.SlugField(max_length=64, required=False, allow_null=True, default=None)
    tier = serializers.IntegerField(
        min_value=1, max_value=3, required=False, allow_null=True, default=None
    )
    min_severity = serializers.RegexField(
        LEVEL_NAME_PATTERN, required=False, allow_null=True, default=None
    )
    counterparts = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        max_length=100,
        help_text="Ids of the counterparts it routes to.",
    )
    reason = reason_field()
