"""Admin for the record of what happened: signals, climbs, decisions, timeline, messages.

These rows are evidence and history: written by the services, only viewed here,
never changed or deleted. Two writes are offered because they go through services:
recording a signal by hand (``signal_ingest``, exactly as the API does) and
putting a failed notification back in the outbox (``notification_retry``).
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from escalations.admin.base import (
    IncidentColumnsMixin,
    ReadOnlyAdminMixin,
    incident_link,
    notification_state_html,
    run_per_row,
    severity_badge,
)
from escalations.choices import NotificationState
from escalations.models import (
    Decision,
    Escalation,
    LadderSnapshot,
    Notification,
    Signal,
    TimelineEntry,
)
from escalations.services.notifications import notification_retry
from escalations.services.signals import signal_ingest
from trust.admin.agents import freshness
from trust.admin.base import ServiceAdminMixin, ServiceModelForm, adopt, refusals_for

ADMIN_SIGNAL_SOURCE = "admin"


def _details(data: dict):
    return format_html_join(", ", "{}: {}", ((key, value) for key, value in sorted(data.items())))


# --- signals --------------------------------------------------------------------------


class SignalForm(ServiceModelForm):
    """A signal recorded by an operator; ingested exactly like one from the API."""

    idempotency_key = forms.CharField(
        max_length=255,
        required=False,
        help_text="Leave empty for a fresh key. Recording the same key twice records one signal.",
    )

    class Meta:
        model = Signal
        fields = ("agent", "kind", "observed_at", "value", "payload", "idempotency_key")


@admin.register(Signal)
class SignalAdmin(IncidentColumnsMixin, ServiceAdminMixin, admin.ModelAdmin):
    """Signals (evidence): every observation, the incident it joined or opened, with that
    incident's severity and action state as they are now.

    A signal recorded here goes through ``signal_ingest`` with source ``admin``:
    matched to its control, grouped, routed and notified like any other. Once
    stored, a signal is only viewed.
    """

    form = SignalForm
    list_display = (
        "id",
        "agent",
        "kind",
        "value",
        "observed_at",
        "source",
        "incident_display",
        "incident_severity",
        "incident_action",
        "suppressed",
        "received_at",
    )
    list_filter = ("kind", "suppressed", "received_at")
    list_select_related = ("agent", "incident__severity")
    search_fields = ("agent__slug", "=idempotency_key")
    search_help_text = "Search by agent slug or exact idempotency key."
    autocomplete_fields = ("agent",)
    show_full_result_count = False
    add_fields = ("agent", "kind", "observed_at", "value", "payload", "idempotency_key")
    view_fields = (
        "agent",
        "kind",
        "observed_at",
        "value",
        "source",
        "idempotency_key",
        "payload",
        "pact",
        "control",
        "incident_display",
        "incident_severity",
        "incident_action",
        "suppressed",
        "silence",
        "received_at",
        "received_by",
        "fingerprint",
    )

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.view_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.view_fields

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request)

    @admin.display(description="incident", ordering="incident")
    def incident_display(self, signal):
        return incident_link(signal.incident_id) if signal.incident_id else "—"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        with refusals_for():
            outcome = signal_ingest(
                agent=data["agent"],
                kind=data["kind"],
                observed_at=data["observed_at"],
                value=data.get("value"),
                payload=data.get("payload") or {},
                source=ADMIN_SIGNAL_SOURCE,
                idempotency_key=data.get("idempotency_key") or f"admin-{uuid.uuid4()}",
                actor=request.user,
            )
        adopt(obj, outcome.signal)


# --- the ladder's record ----------------------------------------------------------------


@admin.register(Escalation)
class EscalationAdmin(IncidentColumnsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every climb of the ladder (and every reminder at its top): from, to, why, who.

    Next to each climb, the incident's severity and action state as they are now.
    """

    list_display = (
        "at",
        "incident_display",
        "incident_severity",
        "incident_action",
        "from_severity",
        "to_display",
        "reason",
        "actor",
    )
    list_filter = ("reason", "to_severity", "at")
    list_select_related = ("from_severity", "to_severity", "actor", "incident__severity")
    search_fields = ("incident__agent__slug",)
    search_help_text = "Search by agent slug."
    show_full_result_count = False
    readonly_fields = ("incident_severity", "incident_action")

    @admin.display(description="incident", ordering="incident")
    def incident_display(self, escalation):
        return incident_link(escalation.incident_id)

    @admin.display(description="to", ordering="to_severity__rank")
    def to_display(self, escalation):
        return severity_badge(escalation.to_severity.name)


@admin.register(Decision)
class DecisionAdmin(IncidentColumnsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Decisions and what each did to the agent (status, autonomy, routing before/after).

    Each row also shows the incident's severity and action state and the freshness of
    the agent's evidence, as they are now.
    """

    list_display = (
        "decided_at",
        "incident_display",
        "incident_severity",
        "incident_action",
        "agent",
        "agent_freshness",
        "consequence",
        "agent_change",
        "actor",
    )
    list_filter = ("consequence", "decided_at")
    list_select_related = ("agent", "actor", "incident__severity")
    search_fields = ("agent__slug", "rationale")
    show_full_result_count = False
    fields = (
        "incident",
        "incident_severity",
        "incident_action",
        "agent",
        "agent_freshness",
        "consequence",
        "rationale",
        "actor",
        "decided_at",
        "agent_before",
        "agent_after",
    )

    @admin.display(description="incident", ordering="incident")
    def incident_display(self, decision):
        if decision.incident_id is None:
            return "— (decided on the agent)"
        return incident_link(decision.incident_id)

    @admin.display(description="agent freshness")
    def agent_freshness(self, decision):
        return freshness(decision.agent, timezone.now())[1]

    @admin.display(description="agent before → after")
    def agent_change(self, decision):
        before, after = decision.agent_before, decision.agent_after
        changed = [
            f"{key}: {before.get(key)} → {value}"
            for key, value in after.items()
            if before.get(key) != value
        ]
        return "; ".join(changed) or "no change"


@admin.register(TimelineEntry)
class TimelineEntryAdmin(IncidentColumnsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The timeline of every incident: one row per transition, with who and what.

    Next to each row, the incident's severity and action state as they are now.
    """

    list_display = (
        "at",
        "incident_display",
        "incident_severity",
        "incident_action",
        "kind",
        "actor",
        "details",
    )
    list_filter = ("kind", "at")
    list_select_related = ("actor", "incident__severity")
    search_fields = ("incident__agent__slug",)
    search_help_text = "Search by agent slug."
    show_full_result_count = False
    fields = ("incident", "incident_severity", "incident_action", "kind", "at", "actor", "data")

    @admin.display(description="incident", ordering="incident")
    def incident_display(self, entry):
        return incident_link(entry.incident_id)

    @admin.display(description="details")
    def details(self, entry):
        return _details(entry.data)


# --- notifications -----------------------------------------------------------------------


@admin.register(Notification)
class NotificationAdmin(IncidentColumnsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The outbox: every message to a counterpart, its attempts and its last error.

    Failed messages (given up after the maximum number of attempts) stand out with
    their error; ``retry_selected`` puts them back in the outbox. Each row also shows
    the incident's severity and action state as they are now.
    """

    list_display = (
        "id",
        "incident_display",
        "incident_severity",
        "incident_action",
        "counterpart",
        "channel",
        "event",
        "state_display",
        "attempts",
        "next_attempt_at",
        "error_display",
        "sent_at",
        "created_at",
    )
    list_filter = ("state", "channel", "created_at")
    list_select_related = ("counterpart", "incident__severity")
    search_fields = ("incident__agent__slug", "counterpart__name", "=dedupe_key")
    search_help_text = "Search by agent slug, counterpart or exact dedupe key."
    show_full_result_count = False
    actions = ("retry_selected",)
    fields = (
        "incident",
        "incident_severity",
        "incident_action",
        "counterpart",
        "channel",
        "event",
        "state_display",
        "attempts",
        "next_attempt_at",
        "last_error",
        "sent_at",
        "created_at",
        "dedupe_key",
        "payload",
    )
    readonly_fields = fields

    def has_change_permission(self, request, obj=None):
        # Rows are never edited; retrying is an action on the changelist.
        if obj is not None:
            return False
        return super(ReadOnlyAdminMixin, self).has_change_permission(request, obj)

    @admin.display(description="incident", ordering="incident")
    def incident_display(self, notification):
        return incident_link(notification.incident_id)

    @admin.display(description="state", ordering="state")
    def state_display(self, notification):
        return notification_state_html(notification)

    @admin.display(description="last error")
    def error_display(self, notification):
        if not notification.last_error:
            return "—"
        text = notification.last_error
        if len(text) > 120:
            text = text[:119] + "…"
        if notification.state == NotificationState.FAILED:
            return format_html('<strong style="color:#c62828">{}</strong>', text)
        return text

    @admin.action(description="Retry selected failed notifications", permissions=["change"])
    def retry_selected(self, request, queryset):
        run_per_row(
            self,
            request,
            list(queryset.order_by("pk")),
            lambda notification: notification_retry(notification=notification, actor=request.user),
            done="Back in the outbox",
            label=lambda notification: f"notification #{notification.pk}",
            unchanged=lambda notification: notification.state == NotificationState.PENDING,
            unchanged_text="already pending",
        )


@admin.register(LadderSnapshot)
class LadderSnapshotAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The ladders incidents climb on: the levels as they were when each incident opened."""

    list_display = ("digest_short", "levels_display", "taken_at")
    fields = ("digest", "taken_at", "levels_display")
    readonly_fields = fields

    @admin.display(description="digest")
    def digest_short(self, snapshot):
        return snapshot.digest[:12]

    @admin.display(description="levels")
    def levels_display(self, snapshot):
        return format_html_join(
            " < ",
            "{} (ack {} s, decide {} s)",
            (
                (level["name"], int(level["ack_deadline"]), int(level["decision_deadline"]))
                for level in snapshot.levels
            ),
        )
