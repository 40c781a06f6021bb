"""Admin for teams, components and agents: the fleet and its freshness."""

from datetime import datetime

from django import forms
from django.contrib import admin
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from atoc.core.history import save_with_history
from trust import selectors
from trust.admin.base import (
    NoDeleteMixin,
    ServiceAdminMixin,
    ServiceModelForm,
    adopt,
    changelist_link,
    ordered,
    refusals_for,
    short_duration,
)
from trust.choices import AgentStatus, BreachSeverity
from trust.models import Agent, Component, Team
from trust.selectors import stale_q
from trust.services.agents import (
    AGENT_EDITABLE_FIELDS,
    agent_assign_pact_version,
    agent_create,
    agent_update,
    team_create,
)


def freshness(agent: Agent, now: datetime) -> tuple[str, str]:
    """The agent's evidence freshness as (state, text), state being fresh/stale/none."""
    due = agent.evaluation_due_at
    if agent.status == AgentStatus.RETIRED:
        return "none", "retired: no evidence due"
    if due is None:
        return "none", "no evidence yet" if agent.pact_version_id else "no pact"
    if due < now:
        return "stale", f"stale (overdue {short_duration(now - due)})"
    if agent.last_evaluated_at is None:
        return "none", f"no evidence yet (due in {short_duration(due - now)})"
    return "fresh", f"fresh (due in {short_duration(due - now)})"


_FRESHNESS_COLOURS = {"fresh": "#2e7d32", "stale": "#c62828", "none": "#757575"}


# --- teams and components -----------------------------------------------------------


@admin.register(Team)
class TeamAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    """Teams side by side: how many agents each owns, how many are stale or restricted.

    The counts come from one annotated query (``team_list_with_fleet_counts``).
    A team is created through ``team_create``; its name and description are plain
    reference data edited with a history row.
    """

    list_display = ("name", "slug", "agents", "stale", "restricted")
    search_fields = ("name", "slug")
    show_full_result_count = False  # each count of this queryset joins every agent
    fields = ("slug", "name", "description", "created_at")

    def get_queryset(self, request):
        return ordered(selectors.team_list_with_fleet_counts())

    def get_readonly_fields(self, request, obj=None):
        return ("created_at",) if obj is None else ("slug", "created_at")

    @admin.display(description="agents", ordering="agent_count")
    def agents(self, team):
        return changelist_link(Agent, team.agent_count, team__id__exact=team.pk)

    @admin.display(description="stale agents", ordering="stale_count")
    def stale(self, team):
        if not team.stale_count:
            return "0"
        return changelist_link(
            Agent, f"{team.stale_count} stale", team__id__exact=team.pk, freshness="stale"
        )

    @admin.display(description="restricted or suspended", ordering="restricted_count")
    def restricted(self, team):
        return team.restricted_count

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            with refusals_for():
                team = team_create(
                    slug=data["slug"],
                    name=data["name"],
                    description=data.get("description", ""),
                    actor=request.user,
                )
            adopt(obj, team)
        elif form.changed_data:
            save_with_history(
                obj,
                actor=request.user,
                reason="Team details changed in the admin",
                update_fields=list(form.changed_data),
            )


@admin.register(Component)
class ComponentAdmin(NoDeleteMixin, admin.ModelAdmin):
    """Labels of what agents are built on; shared labels correlate failures across teams."""

    list_display = ("name", "kind", "agent_count")
    list_filter = ("kind",)
    search_fields = ("name",)

    def get_queryset(self, request):
        return ordered(super().get_queryset(request).annotate(agent_count=Count("agents")))

    @admin.display(description="agents", ordering="agent_count")
    def agent_count(self, component):
        return changelist_link(Agent, component.agent_count, components__id__exact=component.pk)


# --- agents -------------------------------------------------------------------------


class FreshnessFilter(admin.SimpleListFilter):
    """Agents by freshness of their newest evidence against the pact version's window."""

    title = "freshness"
    parameter_name = "freshness"

    def lookups(self, request, model_admin):
        return [("fresh", "fresh"), ("stale", "stale"), ("none", "no evidence yet")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "stale":
            return queryset.filter(stale_q(now))
        if self.value() == "fresh":
            return queryset.filter(
                evaluation_due_at__gte=now, last_evaluated_at__isnull=False
            ).exclude(status=AgentStatus.RETIRED)
        if self.value() == "none":
            return queryset.filter(
                Q(last_evaluated_at__isnull=True) | Q(status=AgentStatus.RETIRED)
            ).exclude(stale_q(now))
        return queryset


class OpenSeverityFilter(admin.SimpleListFilter):
    """Agents by the highest severity among their open incidents (fixed choices, no scan)."""

    title = "highest open severity"
    parameter_name = "open_severity"

    def lookups(self, request, model_admin):
        return [*((value, value) for value in BreachSeverity.values), ("none", "nothing open")]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(highest_open_severity_rank=0)
        if self.value():
            return queryset.filter(highest_open_severity=self.value())
        return queryset


class AgentAdminForm(ServiceModelForm):
    """Agent form: components as comma-separated labels and a reason for the history."""

    components = forms.CharField(
        required=False,
        help_text="Comma-separated labels of what the agent is built on: model, provider, "
        "tools, prompt base (e.g. gpt-4o, openai, zendesk-api).",
    )
    change_reason = forms.CharField(
        max_length=100,
        required=False,
        label="Reason",
        help_text="Why you make this change; kept in the agent's history with your name.",
    )

    class Meta:
        model = Agent
        fields = (
            "slug",
            "name",
            "team",
            "tier",
            "description",
            "components",
            "pact_version",
            "status",
            "autonomy",
            "routing",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            names = self.instance.components.values_list("name", flat=True)
            self.initial["components"] = ", ".join(names)
            if "change_reason" in self.fields:
                self.fields["change_reason"].required = True

    def clean_components(self) -> list[str]:
        raw = self.cleaned_data.get("components") or ""
        return sorted({label.strip() for label in raw.split(",") if label.strip()})

    def clean_pact_version(self):
        version = self.cleaned_data.get("pact_version")
        if version is None and self.instance.pact_version_id is not None:
            raise forms.ValidationError(
                "An agent keeps a pact version; assign another published version instead."
            )
        return version


@admin.register(Agent)
class AgentAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    """The fleet, one row per agent: operating state, trust read fields and freshness.

    Registering uses ``agent_create``; editing uses ``agent_update`` and
    ``agent_assign_pact_version``. Status, autonomy and routing are read-only once
    the agent exists: decisions change them.
    """

    form = AgentAdminForm
    list_display = (
        "slug",
        "name",
        "team",
        "tier",
        "status",
        "autonomy",
        "routing",
        "current_score",
        "freshness_display",
        "severity_display",
        "open_incident_count",
        "pact_version",
    )
    list_filter = (
        FreshnessFilter,
        "status",
        "autonomy",
        "routing",
        "tier",
        OpenSeverityFilter,
        "team",
        "pact_version__pact",
    )
    list_select_related = ("team", "pact_version__pact")
    search_fields = ("slug", "name", "team__name", "team__slug")
    autocomplete_fields = ("team", "pact_version")
    show_full_result_count = False
    operating_fields = ("status", "autonomy", "routing")
    read_fields = (
        "freshness_display",
        "current_score",
        "score_at",
        "last_evaluated_at",
        "evaluation_due_at",
        "open_incident_count",
        "highest_open_severity",
    )

    def get_queryset(self, request):
        return selectors.agent_list()

    def get_fieldsets(self, request, obj=None):
        identity = ("slug", "name", "team", "tier", "description", "components")
        if obj is None:
            return [
                (None, {"fields": identity}),
                ("Pact", {"fields": ("pact_version",)}),
                ("Initial operating state", {"fields": self.operating_fields}),
                ("History", {"fields": ("change_reason",)}),
            ]
        return [
            (None, {"fields": identity}),
            ("Pact", {"fields": ("pact_version", "pact_assigned_at")}),
            (
                "Operating state",
                {
                    "fields": self.operating_fields,
                    "description": "Changed by decisions on incidents, not edited here.",
                },
            ),
            ("Trust", {"fields": self.read_fields}),
            ("Record", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
            ("History", {"fields": ("change_reason",)}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (
            "slug",
            *self.operating_fields,
            "pact_assigned_at",
            *self.read_fields,
            "created_at",
            "updated_at",
        )

    @admin.display(description="freshness", ordering="evaluation_due_at")
    def freshness_display(self, agent):
        state, text = freshness(agent, timezone.now())
        return format_html('<span style="color:{}">{}</span>', _FRESHNESS_COLOURS[state], text)

    @admin.display(description="highest open severity", ordering="-highest_open_severity_rank")
    def severity_display(self, agent):
        return agent.highest_open_severity or "—"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        reason = data.get("change_reason") or ""
        with refusals_for():
            if not change:
                agent = agent_create(
                    slug=data["slug"],
                    name=data["name"],
                    team=data["team"],
                    tier=data["tier"],
                    description=data.get("description", ""),
                    components=data.get("components", []),
                    status=data["status"],
                    autonomy=data["autonomy"],
                    routing=data["routing"],
                    pact_version=data.get("pact_version"),
                    actor=request.user,
                    reason=reason or "Agent registered",
                )
                adopt(obj, agent)
                return
            changes = {f: data[f] for f in AGENT_EDITABLE_FIELDS if f in form.changed_data}
            components = data["components"] if "components" in form.changed_data else None
            agent_update(
                agent=obj, actor=request.user, reason=reason, components=components, **changes
            )
            if "pact_version" in form.changed_data:
                agent_assign_pact_version(
                    agent=obj, pact_version=data["pact_version"], actor=request.user, reason=reason
                )
