"""Query filters of the escalations list endpoints (django-filter, documented in the schema)."""

import django_filters
from django.utils import timezone

from atoc.core.api.filters import StrictFilterSet
from escalations.choices import IncidentState, SignalKind
from escalations.models import Incident, Signal
from escalations.services.promotion import overdue_q


class IncidentFilter(StrictFilterSet):
    state = django_filters.ChoiceFilter(choices=IncidentState.choices)
    severity = django_filters.CharFilter(
        field_name="severity__name", help_text="Severity level name, e.g. SEV1."
    )
    agent = django_filters.CharFilter(field_name="agent__slug", help_text="Agent slug.")
    team = django_filters.CharFilter(field_name="agent__team__slug", help_text="Team slug.")
    kind = django_filters.ChoiceFilter(choices=SignalKind.choices)
    overdue = django_filters.BooleanFilter(
        method="filter_overdue",
        help_text="Past the deadline of its current phase (acknowledgement or decision).",
    )

    class Meta:
        model = Incident
        fields = ["state", "severity", "agent", "team", "kind", "overdue"]

    def filter_overdue(self, queryset, name, value):
        late = overdue_q(timezone.now())
        return queryset.filter(late) if value else queryset.exclude(late)


class SignalFilter(StrictFilterSet):
    agent = django_filters.CharFilter(field_name="agent__slug", help_text="Agent slug.")
    kind = django_filters.ChoiceFilter(choices=SignalKind.choices)
    source = django_filters.CharFilter(help_text="Who sent it, e.g. eval-runner.")
    since = django_filters.IsoDateTimeFilter(
        field_name="observed_at", lookup_expr="gte", help_text="Observed at or after."
    )

    class Meta:
        model = Signal
        fields = ["agent", "kind", "source", "since"]
