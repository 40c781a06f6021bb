"""Admin for the reference data operators edit: the ladder, counterparts, controls, routing.

These are plain reference data, saved by the admin with a history row carrying the
editor (the request) and checked by the models' ``clean()`` and database
constraints, which the forms validate before saving. Incidents keep a snapshot of
the ladder and routing they opened under, so edits change later incidents only.
Silences are created through ``silence_create``. Nothing here is deleted: levels,
counterparts and controls are retired (inactive, disabled) instead.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from escalations.admin.base import severity_badge
from escalations.models import Control, Counterpart, RoutingRule, SeverityLevel, Silence
from escalations.models.counterparts import new_webhook_secret
from escalations.services.silences import silence_create
from trust.admin.base import (
    NoDeleteMixin,
    ServiceAdminMixin,
    ServiceModelForm,
    adopt,
    refusals_for,
    short_duration,
)


@admin.register(SeverityLevel)
class SeverityLevelAdmin(NoDeleteMixin, SimpleHistoryAdmin):
    """The severity ladder, lowest first: deadlines, who is told, automatic consequences."""

    list_display = (
        "level",
        "rank",
        "ack_deadline_display",
        "decision_deadline_display",
        "notify_functions",
        "leadership_visible",
        "automatic_consequence",
        "max_reminders",
        "reminder_interval",
    )
    ordering = ("rank",)

    @admin.display(description="level", ordering="rank")
    def level(self, level):
        return severity_badge(level.name)

    @admin.display(description="acknowledge within", ordering="ack_deadline")
    def ack_deadline_display(self, level):
        return short_duration(level.ack_deadline)

    @admin.display(description="decide within", ordering="decision_deadline")
    def decision_deadline_display(self, level):
        return short_duration(level.decision_deadline)


@admin.register(Counterpart)
class CounterpartAdmin(NoDeleteMixin, SimpleHistoryAdmin):
    """People and rotations incidents are routed to, and how they are reached.

    The webhook signing secret is shown (read-only) so the receiver can be set up to
    verify ``X-ATOC-Signature``; ``rotate_webhook_secret_selected`` replaces it.
    """

    list_display = (
        "name",
        "function",
        "kind",
        "team",
        "email",
        "webhook_url",
        "webhook_format",
        "active",
    )
    list_filter = ("function", "kind", "active", "webhook_format", "team")
    list_select_related = ("team",)
    search_fields = ("name", "email")
    autocomplete_fields = ("team",)
    actions = ("rotate_webhook_secret_selected",)
    fieldsets = [
        (None, {"fields": ("name", "function", "kind", "team", "active")}),
        ("Reach", {"fields": ("email", "webhook_url", "webhook_format", "webhook_secret")}),
    ]
    readonly_fields = ("webhook_secret",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.action(description="Rotate the webhook signing secret", permissions=["change"])
    def rotate_webhook_secret_selected(self, request, queryset):
        names = []
        for counterpart in queryset.order_by("pk"):
            counterpart.webhook_secret = new_webhook_secret()
            counterpart._change_reason = "Webhook secret rotated"
            counterpart.save(update_fields=["webhook_secret"])
            names.append(counterpart.name)
        self.message_user(
            request,
            f"New webhook secrets for {', '.join(names)}: give the receivers the new secret.",
        )


class ControlForm(forms.ModelForm):
    """A control is refused without an owner or a consequence, with the reason given."""

    class Meta:
        model = Control
        fields = (
            "name",
            "description",
            "signal_kind",
            "condition",
            "opening_severity",
            "owner",
            "consequence",
            "review_cadence",
            "last_reviewed_at",
            "enabled",
        )
        error_messages = {
            "owner": {
                "required": "A control needs an owner: a threshold with no downstream "
                "action is not a control."
            },
            "consequence": {
                "required": "A control needs a consequence (the default decision): a "
                "threshold with no downstream action is not a control."
            },
        }


@admin.register(Control)
class ControlAdmin(NoDeleteMixin, SimpleHistoryAdmin):
    """Controls: which signals open incidents, at which level, owned by whom, decided how."""

    form = ControlForm
    list_display = (
        "name",
        "signal_kind",
        "threshold_display",
        "opening_severity",
        "owner",
        "consequence",
        "enabled",
        "review_due",
    )
    list_filter = ("signal_kind", "enabled", "consequence")
    list_select_related = ("opening_severity", "owner")
    search_fields = ("name",)
    autocomplete_fields = ("owner",)

    @admin.display(description="threshold")
    def threshold_display(self, control):
        threshold = control.threshold
        return "every signal" if threshold is None else f"≥ {threshold:g}"

    @admin.display(description="review")
    def review_due(self, control):
        if control.last_reviewed_at is None:
            return "never reviewed"
        due = control.last_reviewed_at + control.review_cadence
        now = timezone.now()
        if due < now:
            return f"overdue by {short_duration(now - due)}"
        return f"due in {short_duration(due - now)}"


@admin.register(RoutingRule)
class RoutingRuleAdmin(NoDeleteMixin, SimpleHistoryAdmin):
    """Routing: which counterparts an incident goes to, by kind, team, tier and severity."""

    list_display = (
        "name",
        "order",
        "kind",
        "team",
        "tier",
        "min_severity",
        "routed_to",
        "is_default",
    )
    list_filter = ("kind", "team", "tier", "is_default")
    list_select_related = ("team", "min_severity")
    search_fields = ("name",)
    filter_horizontal = ("counterparts",)
    ordering = ("order", "id")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("counterparts")

    @admin.display(description="counterparts")
    def routed_to(self, rule):
        return ", ".join(c.name for c in rule.counterparts.all()) or "—"


class SilenceForm(ServiceModelForm):
    class Meta:
        model = Silence
        fields = (
            "agent",
            "component",
            "starts_at",
            "ends_at",
            "recurrence",
            "window_start",
            "window_end",
            "reason",
        )


@admin.register(Silence)
class SilenceAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    """Maintenance windows: signals are still stored, but open no incident meanwhile.

    Created through ``silence_create`` (with who and why); the period or reason can
    be edited afterwards, with a history row.
    """

    form = SilenceForm
    list_display = (
        "target",
        "starts_at",
        "ends_at",
        "recurrence",
        "window",
        "in_force",
        "reason",
        "created_by",
    )
    list_filter = ("recurrence", "starts_at", "ends_at")
    list_select_related = ("agent", "component", "created_by")
    search_fields = ("agent__slug", "component__name", "reason")
    autocomplete_fields = ("agent", "component")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("agent", "component", "created_by", "created_at")

    def get_fields(self, request, obj=None):
        fields = list(SilenceForm.Meta.fields)
        return fields if obj is None else [*fields, "created_by", "created_at"]

    @admin.display(description="silences")
    def target(self, silence):
        return silence.agent or f"component {silence.component}"

    @admin.display(description="daily window (UTC)")
    def window(self, silence):
        if silence.window_start is None:
            return "—"
        return f"{silence.window_start:%H:%M}–{silence.window_end:%H:%M}"

    @admin.display(description="in force now", boolean=True)
    def in_force(self, silence):
        return silence.covers(timezone.now())

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            obj._change_reason = "Silence edited in the admin"
            obj.save(
                update_fields=[f for f in form.changed_data if f not in ("agent", "component")]
            )
            return
        with refusals_for():
            silence = silence_create(
                agent=data.get("agent"),
                component=data.get("component"),
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                recurrence=data["recurrence"],
                window_start=data.get("window_start"),
                window_end=data.get("window_end"),
                reason=data["reason"],
                actor=request.user,
            )
        adopt(obj, silence)
