"""``GET /api/v1/metrics/``: the stored daily snapshots of the center's five metrics.

Needs the ``read`` scope. A key restricted to teams sees the fleet-wide, tier,
severity and subject values and its own teams' values, not other teams'.
"""

from django.db.models import Q
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from atoc.center.api.filters import MetricSnapshotFilter
from atoc.center.api.serializers import MetricSnapshotOutputSerializer
from atoc.center.models import MetricSnapshot
from atoc.core.api.permissions import allowed_team_ids
from atoc.core.models import ApiScope
from trust.models import Team


@extend_schema_view(
    list=extend_schema(
        summary="List metric snapshots",
        description=(
            "The center's metrics as computed by the daily snapshot job: fleet trust review "
            "coverage, time to trust decision, escalation routing accuracy, repeat systemic "
            "issue rate and operator confidence, per day and scope, newest first."
        ),
        tags=["metrics"],
    ),
    retrieve=extend_schema(summary="Read a metric snapshot", tags=["metrics"]),
)
class MetricSnapshotViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Read-only snapshots of the five metrics."""

    serializer_class = MetricSnapshotOutputSerializer
    filterset_class = MetricSnapshotFilter
    lookup_value_regex = r"[0-9]+"
    required_scopes = {"list": ApiScope.READ, "retrieve": ApiScope.READ}

    def get_queryset(self):
        queryset = MetricSnapshot.objects.all()
        team_ids = allowed_team_ids(self.request)
        if team_ids is not None:
            slugs = Team.objects.filter(pk__in=team_ids).values_list("slug", flat=True)
            queryset = queryset.filter(
                ~Q(scope__startswith="team:") | Q(scope__in=[f"team:{slug}" for slug in slugs])
            )
        return queryset

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)
