"""Admin for incidents: the queue operators work through, and each incident's record.

An incident is never edited here. Acknowledging, deciding, resolving, escalating,
rerouting and taking ownership are changelist actions that call the services row
by row and report each success and refusal; deciding, escalating and rerouting ask
for the rationale, reason or counterparts first. The change page shows what the
incident is waiting for and, read only, its timeline, climbs, decisions, signals
and notifications.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html_join
from simple_history.admin import SimpleHistoryAdmin

from escalations import selectors
from escalations.admin.base import (
    ReadOnlyInline,
    changelist_url,
    incident_due_html,
    link,
    notification_state_html,
    render_action_form,
    run_per_row,
    severity_badge,
)
from escalations.choices import IncidentConsequence, IncidentState
from escalations.models import (
    Counterpart,
    Decision,
    Escalation,
    Incident,
    Notification,
    Signal,
    TimelineEntry,
)
from escalations.services.incidents import (
    incident_acknowledge,
    incident_assign,
    incident_decide,
    incident_escalate,
    incident_reroute,
    incident_resolve,
)
from escalations.services.transitions import routed_counterparts
from trust.admin.agents import freshness

# --- inlines (read-only records of the incident) -------------------------------------


class TimelineInline(ReadOnlyInline):
    model = TimelineEntry
    fields = ("at", "kind", "actor", "details")
    related = ("actor",)
    newest_first = ("-at", "-id")
    max_rows = 100
    verbose_name_plural = "timeline (newest first)"

    @admin.display(description="details")
    def details(self, entry):
        return format_html_join(
            ", ", "{}: {}", ((key, value) for key, value in sorted(entry.data.items()))
        )


class EscalationInline(ReadOnlyInline):
    model = Escalation
    fields = ("at", "from_severity", "to_severity", "reason", "notified", "actor")
    related = ("from_severity", "to_severity", "actor")
    newest_first = ("-at", "-id")
    verbose_name_plural = "escalations (climbs of the ladder)"


class DecisionInline(ReadOnlyInline):
    model = Decision
    fields = ("decided_at", "consequence", "rationale", "agent_change", "actor")
    related = ("actor",)
    newest_first = ("-decided_at", "-id")

    @admin.display(description="agent before → after")
    def agent_change(self, decision):
        return f"{decision.agent_before} → {decision.agent_after}"


class SignalInline(ReadOnlyInline):
    model = Signal
    fields = ("received_at", "kind", "observed_at", "value", "source", "idempotency_key")
    newest_first = ("-received_at", "-id")
    verbose_name_plural = "signals (newest 50)"


class NotificationInline(ReadOnlyInline):
    model = Notification
    fields = ("created_at", "event", "counterpart", "channel", "status", "sent_at", "last_error")
    related = ("counterpart",)
    newest_first = ("-created_at", "-id")
    verbose_name_plural = "notifications (newest 50)"

    @admin.display(description="state")
    def status(self, notification):
        return notification_state_html(notification)


# --- filters and forms ----------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    """Incidents past the deadline of what they wait for (acknowledgement or decision)."""

    title = "deadline"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "overdue"), ("no", "not overdue")]

    def queryset(self, request, queryset):
        now = timezone.now()
        overdue = Q(state=IncidentState.OPEN, ack_due_at__lte=now) | Q(
            state=IncidentState.ACKNOWLEDGED, decision_due_at__lte=now
        )
        if self.value() == "yes":
            return queryset.filter(overdue)
        if self.value() == "no":
            return queryset.exclude(overdue)
        return queryset


class DecideForm(forms.Form):
    """The decision on the selected incidents: what happens to the agent, and why."""

    consequence = forms.ChoiceField(choices=IncidentConsequence.choices)
    rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why: kept with the decision and in the incident's history.",
    )


class EscalateForm(forms.Form):
    """Why the selected incidents climb one level by hand."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why the incident needs the next level now.",
    )


class RerouteForm(forms.Form):
    """Who the selected incidents go to instead, and why they were misrouted."""

    counterparts = forms.ModelMultipleChoiceField(
        queryset=Counterpart.objects.filter(active=True).order_by("function", "name"),
        widget=forms.CheckboxSelectMultiple,
        label="Route to",
        error_messages={"required": "Choose at least one counterpart."},
        help_text="Each incident goes to exactly these active counterparts; the newly added "
        "ones are notified.",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why the incident was routed wrongly: kept in its timeline and history.",
    )


# --- the incident admin --------------------------------------------------------------


@admin.register(Incident)
class IncidentAdmin(SimpleHistoryAdmin):
    """Incidents with severity, action state and what is due when, in every row.

    Rows come from ``selectors.incident_list`` joined to agent, team, severity and
    owner, so the page costs the same number of queries for 1 or 50 incidents.
    Incidents are opened by signals; here they are acted on through the actions.
    """

    list_display = (
        "number",
        "agent",
        "team",
        "kind",
        "severity_display",
        "state",
        "due_display",
        "freshness_display",
        "signal_count",
        "owner",
        "opened_at",
    )
    list_display_links = ("number",)
    list_filter = ("state", OverdueFilter, "severity", "kind", "agent__team")
    list_select_related = ("agent__team", "severity", "owner")
    search_fields = ("agent__slug",)
    search_help_text = "Search by agent slug."
    show_full_result_count = False
    list_per_page = 50
    actions = (
        "acknowledge_selected",
        "decide_selected",
        "resolve_selected",
        "escalate_selected",
        "reroute_selected",
        "assign_to_me_selected",
    )
    inlines = (
        TimelineInline,
        EscalationInline,
        DecisionInline,
        SignalInline,
        NotificationInline,
    )
    fieldsets = [
        (None, {"fields": ("agent", "team", "kind", "pact", "control")}),
        (
            "Action state",
            {
                "fields": (
                    "severity_display",
                    "state",
                    "due_display",
                    "owner",
                    "ack_due_at",
                    "decision_due_at",
                    "reminders_sent",
                )
            },
        ),
        ("Freshness of the agent's evidence", {"fields": ("freshness_display",)}),
        (
            "When",
            {"fields": ("opened_at", "acknowledged_at", "decided_at", "resolved_at")},
        ),
        (
            "Routing",
            {"fields": ("routed_to", "first_routed_to", "rerouted")},
        ),
        ("Signals", {"fields": ("signal_count", "last_signal_at", "records")}),
    ]
    readonly_fields = (
        "agent",
        "team",
        "kind",
        "pact",
        "control",
        "severity_display",
        "state",
        "due_display",
        "owner",
        "ack_due_at",
        "decision_due_at",
        "reminders_sent",
        "freshness_display",
        "opened_at",
        "acknowledged_at",
        "decided_at",
        "resolved_at",
        "routed_to",
        "first_routed_to",
        "rerouted",
        "signal_count",
        "last_signal_at",
        "records",
    )

    def get_queryset(self, request):
        return selectors.incident_list()

    def has_add_permission(self, request):
        return False  # incidents are opened by signals

    def has_change_permission(self, request, obj=None):
        # The change page only shows the incident; the actions change it.
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # The incident's own page offers the actions its state allows, as buttons: each
    # posts back to the page and runs the same admin action on this one incident.
    PAGE_ACTIONS = {
        IncidentState.OPEN: (
            "acknowledge_selected",
            "assign_to_me_selected",
            "decide_selected",
            "escalate_selected",
            "reroute_selected",
        ),
        IncidentState.ACKNOWLEDGED: (
            "assign_to_me_selected",
            "decide_selected",
            "escalate_selected",
            "reroute_selected",
        ),
        IncidentState.DECIDED: ("resolve_selected", "decide_selected", "reroute_selected"),
        IncidentState.RESOLVED: (),
    }
    PAGE_ACTION_LABELS = {
        "acknowledge_selected": "Acknowledge",
        "assign_to_me_selected": "Take ownership",
        "decide_selected": "Decide…",
        "escalate_selected": "Escalate one level…",
        "reroute_selected": "Reroute…",
        "resolve_selected": "Resolve",
    }
    change_form_template = "admin/escalations/incident/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST" and "action" in request.POST:
            # The page's buttons and the forms they lead to (decide, escalate, reroute) come
            # back here; the action runs on this incident only, held to the same
            # permissions (and team scope) as from the list.
            queryset = self.get_queryset(request).filter(pk=object_id)
            post = request.POST.copy()
            post.setlist(admin.helpers.ACTION_CHECKBOX_NAME, [str(object_id)])
            post.pop("select_across", None)
            request.POST = post
            response = self.response_action(request, queryset)
            return response or HttpResponseRedirect(request.get_full_path())
        extra_context = extra_context or {}
        incident = self.get_object(request, object_id)
        if incident is not None:
            extra_context["incident_actions"] = self.page_actions(request, incident)
        return super().change_view(request, object_id, form_url, extra_context)

    def page_actions(self, request, incident) -> list[tuple[str, str]]:
        """The (action, button label) pairs the incident's page offers this user."""
        allowed = self.get_actions(request)
        return [
            (name, self.PAGE_ACTION_LABELS[name])
            for name in self.PAGE_ACTIONS.get(incident.state, ())
            if name in allowed
        ]

    # --- columns --------------------------------------------------------------------

    @admin.display(description="incident", ordering="-id")
    def number(self, incident):
        return f"#{incident.pk}"

    @admin.display(description="team", ordering="agent__team__name")
    def team(self, incident):
        return incident.agent.team

    @admin.display(description="severity", ordering="-severity__rank")
    def severity_display(self, incident):
        return severity_badge(incident.severity.name)

    @admin.display(description="due")
    def due_display(self, incident):
        return incident_due_html(incident, timezone.now())

    @admin.display(description="freshness", ordering="agent__evaluation_due_at")
    def freshness_display(self, incident):
        return freshness(incident.agent, timezone.now())[1]

    @admin.display(description="routed to")
    def routed_to(self, incident):
        return ", ".join(str(c) for c in incident.counterparts.all()) or "—"

    @admin.display(description="first routed to")
    def first_routed_to(self, incident):
        return ", ".join(str(c) for c in incident.first_counterparts.all()) or "—"

    @admin.display(description="all records")
    def records(self, incident):
        links = [
            (changelist_url(Signal, incident__id__exact=incident.pk), "signals"),
            (changelist_url(TimelineEntry, incident__id__exact=incident.pk), "timeline"),
            (changelist_url(Notification, incident__id__exact=incident.pk), "notifications"),
            (changelist_url(Escalation, incident__id__exact=incident.pk), "escalations"),
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    # --- actions --------------------------------------------------------------------

    def _selected(self, queryset):
        return list(queryset.select_related("agent", "severity").order_by("pk"))

    @admin.action(description="Acknowledge selected incidents", permissions=["change"])
    def acknowledge_selected(self, request, queryset):
        run_per_row(
            self,
            request,
            self._selected(queryset),
            lambda incident: incident_acknowledge(incident=incident, actor=request.user),
            done="Acknowledged",
            unchanged=lambda incident: incident.state != IncidentState.OPEN,
            unchanged_text="already acknowledged",
        )

    @admin.action(description="Decide selected incidents…", permissions=["change"])
    def decide_selected(self, request, queryset):
        incidents = self._selected(queryset)
        form = DecideForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            data = form.cleaned_data
            run_per_row(
                self,
                request,
                incidents,
                lambda incident: incident_decide(
                    incident=incident,
                    consequence=data["consequence"],
                    rationale=data["rationale"],
                    actor=request.user,
                ),
                done=f"Decided ({IncidentConsequence(data['consequence']).label})",
                unchanged=lambda incident: incident.state == IncidentState.DECIDED,
                unchanged_text="already decided that way",
            )
            return None
        return self._action_form(
            request,
            incidents,
            form,
            action="decide_selected",
            title="Decide incidents",
            intro="The consequence is applied to each incident's agent at once (its status, "
            "autonomy or routing), with your rationale, in the same transaction.",
            submit="Decide",
        )

    @admin.action(description="Resolve selected incidents", permissions=["change"])
    def resolve_selected(self, request, queryset):
        run_per_row(
            self,
            request,
            self._selected(queryset),
            lambda incident: incident_resolve(incident=incident, actor=request.user),
            done="Resolved",
            unchanged=lambda incident: incident.state == IncidentState.RESOLVED,
            unchanged_text="already resolved",
        )

    @admin.action(description="Escalate selected incidents one level…", permissions=["change"])
    def escalate_selected(self, request, queryset):
        incidents = self._selected(queryset)
        form = EscalateForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            run_per_row(
                self,
                request,
                incidents,
                lambda incident: incident_escalate(
                    incident=incident, reason=form.cleaned_data["reason"], actor=request.user
                ),
                done="Escalated one level",
            )
            return None
        return self._action_form(
            request,
            incidents,
            form,
            action="escalate_selected",
            title="Escalate incidents",
            intro="Each incident climbs one level of its ladder now: the next level's "
            "counterparts are notified and its automatic consequence applies.",
            submit="Escalate",
        )

    @admin.action(description="Reroute selected incidents…", permissions=["change"])
    def reroute_selected(self, request, queryset):
        incidents = self._selected(queryset)
        current = routed_counterparts(incidents)
        if "apply" in request.POST:
            form = RerouteForm(request.POST)
        else:
            # Preselect whom the incidents share now (for one incident: all of its own).
            routings = [set(current.get(incident.pk, [])) for incident in incidents]
            shared = set.intersection(*routings) if routings else set()
            form = RerouteForm(initial={"counterparts": sorted(shared)})
        if "apply" in request.POST and form.is_valid():
            chosen = list(form.cleaned_data["counterparts"])
            wanted = sorted(c.pk for c in chosen)
            run_per_row(
                self,
                request,
                incidents,
                lambda incident: incident_reroute(
                    incident=incident,
                    counterparts=chosen,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                ),
                done=f"Rerouted to {', '.join(c.name for c in chosen)}",
                unchanged=lambda incident: sorted(current.get(incident.pk, [])) == wanted,
                unchanged_text="already routed there",
            )
            return None
        ids = {pk for routed in current.values() for pk in routed}
        names = dict(Counterpart.objects.filter(pk__in=ids).values_list("pk", "name"))
        return self._action_form(
            request,
            incidents,
            form,
            action="reroute_selected",
            title="Reroute incidents",
            intro="Each incident is routed to the counterparts you choose instead of those it "
            "has now; the newly added ones are notified. A rerouted incident counts against "
            "escalation routing accuracy.",
            submit="Reroute",
            routed={
                pk: ", ".join(names[c] for c in ids if c in names) for pk, ids in current.items()
            },
        )

    @admin.action(description="Take ownership of selected incidents", permissions=["change"])
    def assign_to_me_selected(self, request, queryset):
        run_per_row(
            self,
            request,
            self._selected(queryset),
            lambda incident: incident_assign(
                incident=incident, owner=request.user, actor=request.user
            ),
            done="You own",
            unchanged=lambda incident: incident.owner_id == request.user.pk,
            unchanged_text="already yours",
        )

    def _action_form(self, request, incidents, form, *, action, title, intro, submit, routed=None):
        """The intermediate page listing the incidents; ``routed`` adds whom each goes to."""
        now = timezone.now()
        headers = ["Incident", "Agent", "Kind", "Severity", "State", "Due"]
        rows = [
            (
                incident.pk,
                [
                    link(incident, f"#{incident.pk}"),
                    incident.agent,
                    incident.get_kind_display(),
                    severity_badge(incident.severity.name),
                    incident.get_state_display(),
                    incident_due_html(incident, now),
                ],
            )
            for incident in incidents
        ]
        if routed is not None:
            headers.append("Routed to")
            for pk, cells in rows:
                cells.append(routed.get(pk) or "—")
        return render_action_form(
            self,
            request,
            headers=headers,
            rows=rows,
            form=form,
            action=action,
            title=title,
            intro=intro,
            submit=submit,
        )
