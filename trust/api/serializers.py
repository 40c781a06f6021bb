"""Input serializers (shape only, handed to services) and output serializers (fed by selectors).

Durations are integers of seconds (``freshness_window_seconds``, ``window_seconds``);
agents and teams are named by slug, pact versions by id.
"""

from datetime import timedelta
from decimal import Decimal

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from atoc.core.api.serializers import InputSerializer
from trust.choices import (
    AgentAutonomy,
    AgentRouting,
    AgentStatus,
    AgentTier,
    BreachSeverity,
    Comparator,
    DisputeOutcome,
    EvaluatorKind,
    MetricUnit,
)
from trust.models import Agent, Dispute, Obligation, PactVersion

# Ten years: longer windows are surely a mistake (and would overflow dates).
MAX_WINDOW_SECONDS = 10 * 365 * 24 * 3600
MAX_OBLIGATIONS = 100
MAX_RESULTS = 1000
MAX_COMPONENTS = 50


def seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def window_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_WINDOW_SECONDS, **kwargs)


# --- teams ----------------------------------------------------------------------


class TeamOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField()
    agent_count = serializers.IntegerField()
    stale_count = serializers.IntegerField(help_text="Agents whose evidence is stale.")
    restricted_count = serializers.IntegerField(help_text="Agents restricted or suspended.")


# --- agents ---------------------------------------------------------------------


class AgentFreshnessSerializer(serializers.Serializer):
    last_evaluated_at = serializers.DateTimeField(allow_null=True)
    evaluation_due_at = serializers.DateTimeField(
        allow_null=True, help_text="When the newest evidence goes stale."
    )
    window_seconds = serializers.IntegerField(allow_null=True)
    stale = serializers.BooleanField()


class AgentOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    team = serializers.SlugField(source="team.slug")
    tier = serializers.IntegerField()
    description = serializers.CharField()
    components = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=AgentStatus.choices)
    autonomy = serializers.ChoiceField(choices=AgentAutonomy.choices)
    routing = serializers.ChoiceField(choices=AgentRouting.choices)
    pact = serializers.SerializerMethodField()
    pact_version = serializers.IntegerField(source="pact_version_id", allow_null=True)
    score = serializers.IntegerField(source="current_score", allow_null=True)
    score_at = serializers.DateTimeField(allow_null=True)
    freshness = serializers.SerializerMethodField()
    open_incident_count = serializers.IntegerField()
    highest_open_severity = serializers.CharField(
        allow_null=True, help_text="Severity of the most severe open incident, or null."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_components(self, agent: Agent) -> list[str]:
        return [c.name for c in agent.components.all()]

    @extend_schema_field(serializers.SlugField(allow_null=True))
    def get_pact(self, agent: Agent) -> str | None:
        return agent.pact_version.pact.slug if agent.pact_version_id else None

    @extend_schema_field(AgentFreshnessSerializer)
    def get_freshness(self, agent: Agent) -> dict:
        now = self.context.get("now")
        window = agent.pact_version.freshness_window if agent.pact_version_id else None
        return AgentFreshnessSerializer(
            {
                "last_evaluated_at": agent.last_evaluated_at,
                "evaluation_due_at": agent.evaluation_due_at,
                "window_seconds": seconds(window),
                "stale": agent.is_stale(now),
            }
        ).data

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["highest_open_severity"] = data["highest_open_severity"] or None
        return data


class AgentCreateInputSerializer(InputSerializer):
    slug = serializers.SlugField(max_length=100)
    name = serializers.CharField(max_length=200)
    team = serializers.SlugField(max_length=64, help_text="Slug of the owning team.")
    tier = serializers.ChoiceField(choices=AgentTier.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    components = serializers.ListField(
        child=serializers.CharField(max_length=120),
        required=False,
        default=list,
        max_length=MAX_COMPONENTS,
    )
    pact_version = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="Id of a published pact version."
    )
    status = serializers.ChoiceField(choices=AgentStatus.choices, default=AgentStatus.ACTIVE)
    autonomy = serializers.ChoiceField(
        choices=AgentAutonomy.choices, default=AgentAutonomy.SUPERVISED
    )
    routing = serializers.ChoiceField(choices=AgentRouting.choices, default=AgentRouting.LIVE)


class AgentUpdateInputSerializer(InputSerializer):
    """Descriptive fields and the pact version; status, autonomy and routing change by decisions."""

    name = serializers.CharField(max_length=200)
    team = serializers.SlugField(max_length=64)
    tier = serializers.ChoiceField(choices=AgentTier.choices)
    description = serializers.CharField(required=False, allow_blank=True)
    components = serializers.ListField(
        child=serializers.CharField(max_length=120), required=False, max_length=MAX_COMPONENTS
    )
    pact_version = serializers.IntegerField(required=False, min_value=1)
    reason = serializers.CharField(
        required=False, max_length=100, default="Agent updated through the API"
    )


# --- trust statement --------------------------------------------------------------


class TrustFreshnessSerializer(serializers.Serializer):
    last_evaluated_at = serializers.CharField(allow_null=True)
    window_seconds = serializers.IntegerField(allow_null=True)
    stale = serializers.BooleanField()


class OpenIncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    severity = serializers.CharField()
    state = serializers.CharField()


class TrustStatementSerializer(serializers.Serializer):
    """Documentation of the signed statement (built by ``trust.api.oracle``)."""

    agent = serializers.SlugField()
    status = serializers.ChoiceField(choices=AgentStatus.choices)
    autonomy = serializers.ChoiceField(choices=AgentAutonomy.choices)
    routing = serializers.ChoiceField(choices=AgentRouting.choices)
    score = serializers.IntegerField(allow_null=True, min_value=0, max_value=1000)
    score_at = serializers.CharField(allow_null=True, help_text="ISO 8601, UTC.")
    freshness = TrustFreshnessSerializer()
    pact_version = serializers.IntegerField(allow_null=True, help_text="Pact version id.")
    open_incidents = OpenIncidentSerializer(many=True)
    issued_at = serializers.CharField(help_text="ISO 8601, UTC.")
    key_id = serializers.CharField(help_text="Which published key signed the statement.")
    signature = serializers.CharField(
        help_text="Ed25519 over the canonical JSON of every other field, base64url, no padding."
    )


class TrustKeySerializer(serializers.Serializer):
    key_id = serializers.CharField()
    algorithm = serializers.ChoiceField(choices=["Ed25519"])
    public_key = serializers.CharField(help_text="Raw 32-byte public key, base64url.")


class TrustKeysSerializer(serializers.Serializer):
    keys = TrustKeySerializer(many=True)


# --- pacts ------------------------------------------------------------------------


class PactOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    version_count = serializers.IntegerField()
    latest_published_number = serializers.IntegerField(allow_null=True)


class PactCreateInputSerializer(InputSerializer):
    slug = serializers.SlugField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ObligationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    metric = serializers.CharField()
    description = serializers.CharField()
    unit = serializers.ChoiceField(choices=MetricUnit.choices)
    comparator = serializers.ChoiceField(choices=Comparator.choices)
    threshold = serializers.FloatField()
    window_seconds = serializers.SerializerMethodField()
    breach_severity = serializers.ChoiceField(choices=BreachSeverity.choices)

    def get_window_seconds(self, obligation: Obligation) -> int:
        return seconds(obligation.window)


class PactVersionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    pact = serializers.SlugField(source="pact.slug")
    number = serializers.IntegerField()
    state = serializers.CharField()
    freshness_window_seconds = serializers.SerializerMethodField()
    review_cadence_seconds = serializers.SerializerMethodField()
    notes = serializers.CharField()
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)
    agent_count = serializers.IntegerField(help_text="Agents holding this version.")
    obligations = ObligationOutputSerializer(many=True)

    def get_freshness_window_seconds(self, version: PactVersion) -> int:
        return seconds(version.freshness_window)

    def get_review_cadence_seconds(self, version: PactVersion) -> int:
        return seconds(version.review_cadence)


class ObligationInputSerializer(InputSerializer):
    metric = serializers.SlugField(max_length=100)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    unit = serializers.ChoiceField(choices=MetricUnit.choices, default=MetricUnit.RATIO)
    comparator = serializers.ChoiceField(choices=Comparator.choices)
    threshold = serializers.FloatField()
    window_seconds = window_field(help_text="Measurement window in seconds.")
    breach_severity = serializers.ChoiceField(
        choices=BreachSeverity.choices, default=BreachSeverity.SEV3
    )


class PactVersionCreateInputSerializer(InputSerializer):
    """A new version with its obligations; it is published at once."""

    freshness_window_seconds = window_field(
        help_text="How old the newest evaluation may be before the evidence is stale."
    )
    review_cadence_seconds = window_field(help_text="How often agents on it are reviewed.")
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    obligations = serializers.ListField(
        child=ObligationInputSerializer(), min_length=1, max_length=MAX_OBLIGATIONS
    )


# --- fields whose schema a plain DRF field would misstate ------------------------------

SHA256_PATTERN = r"^([0-9a-fA-F]{64})?$"
HTTP_URL_PATTERN = r"^(https?://[^\x00-\x20\x7f/?#]+([/?#][^\x00-\x20\x7f]*)?)?$"
AMOUNT_PATTERN = r"^(0\.(0[1-9]|[1-9][0-9]?)|[1-9][0-9]{0,11}(\.[0-9]{1,2})?)$"


class OptionalPatternField(serializers.CharField):
    """A string whose pattern itself allows the empty string.

    DRF would answer "may not be blank" before the pattern is checked, and a
    blank-allowing field is documented as ``oneOf`` (which an empty string
    matches twice); here the pattern alone decides.
    """

    def run_validation(self, data=empty):
        if data == "":
            self.run_validators(data)
            return data
        return super().run_validation(data)


@extend_schema_field({"type": "string", "pattern": SHA256_PATTERN})
class Sha256Field(OptionalPatternField):
    """A SHA-256 hex digest, or empty."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(RegexValidator(SHA256_PATTERN, "Must be 64 hexadecimal characters."))


@extend_schema_field({"type": "string", "maxLength": 500, "pattern": HTTP_URL_PATTERN})
class HttpUrlField(OptionalPatternField):
    """An http(s) URL without spaces, or empty."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(RegexValidator(HTTP_URL_PATTERN, "Must be an http(s) URL."))


@extend_schema_field({"type": "string", "format": "decimal", "pattern": AMOUNT_PATTERN})
class AmountField(serializers.DecimalField):
    """A positive amount with at most 12 digits and 2 decimals, as a string ("1250.50")."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(RegexValidator(AMOUNT_PATTERN, "A positive amount such as 1250.50."))


# --- evaluations --------------------------------------------------------------------


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": 100},
            {"type": "integer", "minimum": 1},
        ]
    }
)
class ObligationReferenceField(serializers.Field):
    """An obligation named by its metric (string) or its id (integer)."""

    default_error_messages = {"invalid": "Give the obligation's metric name or its id."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        if isinstance(data, int) and data < 1:
            self.fail("invalid")
        if isinstance(data, str) and (not data or len(data) > 100 or "\x00" in data):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class EvaluationResultInputSerializer(InputSerializer):
    obligation = ObligationReferenceField()
    value = serializers.FloatField()
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    explanation = serializers.CharField(required=False, allow_blank=True, default="")


class EvaluationSubmitInputSerializer(InputSerializer):
    agent = serializers.SlugField(max_length=100)
    pact_version = serializers.IntegerField(min_value=1, help_text="Pact version id.")
    evaluator = serializers.CharField(max_length=200)
    evaluator_kind = serializers.ChoiceField(choices=EvaluatorKind.choices)
    independent = serializers.BooleanField(default=False)
    suite = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    started_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField()
    results = serializers.ListField(
        child=EvaluationResultInputSerializer(), min_length=1, max_length=MAX_RESULTS
    )
    evidence_uri = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )
    evidence_sha256 = Sha256Field(required=False, default="")
    trace_url = HttpUrlField(max_length=500, required=False, default="")


class EvaluationResultOutputSerializer(serializers.Serializer):
    obligation = serializers.IntegerField(source="obligation_id")
    metric = serializers.CharField(source="obligation.metric")
    value = serializers.FloatField()
    label = serializers.CharField()
    explanation = serializers.CharField()
    passed = serializers.BooleanField()


class EvaluationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    agent = serializers.SlugField(source="agent.slug")
    pact_version = serializers.IntegerField(source="pact_version_id")
    evaluator = serializers.CharField()
    evaluator_kind = serializers.ChoiceField(choices=EvaluatorKind.choices)
    independent = serializers.BooleanField()
    suite = serializers.CharField()
    started_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField()
    verdict = serializers.CharField()
    passed_count = serializers.IntegerField()
    failed_count = serializers.IntegerField()
    trace_url = serializers.CharField()
    evidence_uri = serializers.CharField()
    evidence_sha256 = serializers.CharField()
    submitted_by = serializers.CharField(source="submitted_by.username")
    created_at = serializers.DateTimeField()
    results = EvaluationResultOutputSerializer(many=True)


class FailureSerializer(serializers.Serializer):
    obligation_id = serializers.IntegerField()
    metric = serializers.CharField()
    value = serializers.FloatField()
    comparator = serializers.ChoiceField(choices=Comparator.choices)
    threshold = serializers.FloatField()
    severity = serializers.ChoiceField(choices=BreachSeverity.choices)


class ScoreSerializer(serializers.Serializer):
    value = serializers.IntegerField()
    previous_value = serializers.IntegerField(allow_null=True)
    computed_at = serializers.DateTimeField()


class SignalSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    incident = serializers.IntegerField(allow_null=True, help_text="Incident it joined or opened.")


class EvaluationSubmitOutputSerializer(EvaluationOutputSerializer):
    """The stored evaluation, what failed, the new score and the signals raised."""

    failures = FailureSerializer(many=True)
    score = ScoreSerializer(allow_null=True)
    signals = SignalSummarySerializer(many=True)


# --- disputes -------------------------------------------------------------------------


class DisputeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    agent = serializers.SlugField(source="agent.slug")
    reference = serializers.CharField()
    counterparty = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()
    description = serializers.CharField()
    state = serializers.CharField()
    outcome = serializers.CharField(allow_null=True)
    resolution_note = serializers.CharField()
    opened_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Dispute):
        data = super().to_representation(instance)
        data["outcome"] = data["outcome"] or None
        return data


class DisputeWithSignalsOutputSerializer(DisputeOutputSerializer):
    signals = SignalSummarySerializer(many=True)


class DisputeOpenInputSerializer(InputSerializer):
    agent = serializers.SlugField(max_length=100)
    reference = serializers.CharField(max_length=100, help_text="Settlement reference (unique).")
    counterparty = serializers.CharField(max_length=200)
    amount = AmountField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", help_text="ISO 4217 code, e.g. EUR.")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    opened_at = serializers.DateTimeField(required=False)


class DisputeResolveInputSerializer(InputSerializer):
    outcome = serializers.ChoiceField(choices=DisputeOutcome.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")
