"""Query filters of ``/api/v1/metrics/``."""

import django_filters

from atoc.center.choices import Metric
from atoc.center.models import MetricSnapshot
from atoc.core.api.filters import StrictFilterSet


class MetricSnapshotFilter(StrictFilterSet):
    metric = django_filters.ChoiceFilter(choices=Metric.choices)
    scope = django_filters.CharFilter(
        help_text="fleet, team:<slug>, tier:<n>, severity:<name> or subject:<kind>."
    )
    since = django_filters.DateFilter(
        field_name="day", lookup_expr="gte", help_text="Days on or after (YYYY-MM-DD)."
    )
    until = django_filters.DateFilter(
        field_name="day", lookup_expr="lte", help_text="Days on or before (YYYY-MM-DD)."
    )

    class Meta:
        model = MetricSnapshot
        fields = ["metric", "scope", "since", "until"]
