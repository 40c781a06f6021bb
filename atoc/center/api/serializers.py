"""Output serializer of the metric snapshots (the endpoint only reads)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from atoc.center.metrics import DEFINITIONS
from atoc.center.models import MetricSnapshot


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": True,
        "description": "The parts of the value: numerator and denominator for shares; "
        "mean_seconds, p50_seconds and p90_seconds for time to decision.",
    }
)
class DetailsField(serializers.JSONField):
    pass


class MetricSnapshotOutputSerializer(serializers.ModelSerializer):
    """One metric for one scope on one day."""

    unit = serializers.SerializerMethodField(help_text="share (0–1) or seconds.")
    details = DetailsField()

    class Meta:
        model = MetricSnapshot
        fields = [
            "id",
            "day",
            "metric",
            "scope",
            "value",
            "unit",
            "count",
            "window_days",
            "details",
            "computed_at",
        ]
        extra_kwargs = {
            "scope": {
                "help_text": "fleet, team:<slug>, tier:<n>, severity:<name> or "
                "subject:<incident|decision|review>."
            },
            "value": {
                "help_text": "A share from 0 to 1, or seconds; null when nothing was measured."
            },
            "count": {"help_text": "How many agents, decisions, incidents or ratings."},
        }

    def get_unit(self, snapshot) -> str:
        return DEFINITIONS[snapshot.metric]["unit"]
