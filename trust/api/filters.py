"""Query filters of the trust list endpoints (django-filter, documented in the schema)."""

import django_filters
from django.utils import timezone

from atoc.core.api.filters import StrictFilterSet
from trust.choices import AgentStatus, AgentTier, DisputeState, Verdict
from trust.models import Agent, Dispute, Evaluation
from trust.selectors import stale_q


class AgentFilter(StrictFilterSet):
    team = django_filters.CharFilter(field_name="team__slug", help_text="Team slug.")
    tier = django_filters.TypedChoiceFilter(choices=AgentTier.choices, coerce=int)
    status = django_filters.ChoiceFilter(choices=AgentStatus.choices)
    stale = django_filters.BooleanFilter(
        method="filter_stale", help_text="Newest evidence older than the freshness window."
    )
    component = django_filters.CharFilter(
        field_name="components__name", help_text="Component name."
    )

    class Meta:
        model = Agent
        fields = ["team", "tier", "status", "stale", "component"]

    def filter_stale(self, queryset, name, value):
        now = timezone.now()
        if value:
            return queryset.filter(stale_q(now))
        return queryset.exclude(stale_q(now))


class EvaluationFilter(StrictFilterSet):
    agent = django_filters.CharFilter(field_name="agent__slug", help_text="Agent slug.")
    verdict = django_filters.ChoiceFilter(choices=Verdict.choices)
    since = django_filters.IsoDateTimeFilter(
        field_name="completed_at", lookup_expr="gte", help_text="Completed at or after."
    )

    class Meta:
        model = Evaluation
        fields = ["agent", "verdict", "since"]


class DisputeFilter(StrictFilterSet):
    agent = django_filters.CharFilter(field_name="agent__slug", help_text="Agent slug.")
    state = django_filters.ChoiceFilter(choices=DisputeState.choices)

    class Meta:
        model = Dispute
        fields = ["agent", "state"]
