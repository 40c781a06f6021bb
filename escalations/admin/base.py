"""What the escalations admin shares: read-only inlines, links, due times, per-row actions.

The machinery that puts services behind admin forms (a refusal shown on the field
it names, no deletes) is the trust admin's; it is reused from ``trust.admin.base``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.forms.models import BaseInlineFormSet
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from atoc.core.exceptions import DomainError
from escalations.choices import IncidentState, NotificationState
from escalations.models import Incident
from trust.admin.base import short_duration

SEVERITY_COLOURS = {"SEV1": "#b71c1c", "SEV2": "#e65100", "SEV3": "#f9a825", "SEV4": "#546e7a"}
OVERDUE_COLOUR = "#c62828"


def admin_url(obj, view: str = "change") -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])


def changelist_url(model, **query) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    if not query:
        return url
    return url + "?" + "&".join(f"{key}={value}" for key, value in query.items())


def link(obj, text=None):
    """A link to the object's admin page ("—" when there is none)."""
    if obj is None:
        return "—"
    return format_html('<a href="{}">{}</a>', admin_url(obj), text if text is not None else obj)


def incident_link(incident_id: int):
    url = reverse("admin:escalations_incident_change", args=[incident_id])
    return format_html('<a href="{}">#{}</a>', url, incident_id)


def severity_badge(name: str | None):
    if not name:
        return "—"
    colour = SEVERITY_COLOURS.get(name, "#424242")
    return format_html('<strong style="color:{}">{}</strong>', colour, name)


def incident_due(incident: Incident, now: datetime) -> tuple[bool, str]:
    """What the incident waits for and until when, as (overdue, text)."""
    if incident.state == IncidentState.OPEN:
        due, waiting = incident.ack_due_at, "acknowledgement"
    elif incident.state == IncidentState.ACKNOWLEDGED:
        due, waiting = incident.decision_due_at, "decision"
    elif incident.state == IncidentState.DECIDED:
        return False, "awaiting resolution"
    else:
        return False, "resolved: nothing awaits"
    if due is None:
        return False, f"{waiting}: no deadline (paused or reminders done)"
    if due <= now:
        return True, f"{waiting} overdue by {short_duration(now - due)}"
    return False, f"{waiting} due in {short_duration(due - now)}"


def incident_due_html(incident: Incident, now: datetime):
    overdue, text = incident_due(incident, now)
    if overdue:
        return format_html('<strong style="color:{}">{}</strong>', OVERDUE_COLOUR, text)
    return text


class IncidentColumnsMixin:
    """Columns for a list whose rows belong to an incident: its severity and action state.

    A row that names an incident only by its number still says how severe the
    incident is and what it waits for, until when. The list selects
    ``incident__severity`` with its rows (``list_select_related``), so the columns
    cost no query per row. A row without an incident shows "—".
    """

    @admin.display(description="incident severity")
    def incident_severity(self, row):
        incident = row.incident
        return severity_badge(incident.severity.name) if incident is not None else "—"

    @admin.display(description="incident action state")
    def incident_action(self, row):
        incident = row.incident
        return incident_due_html(incident, timezone.now()) if incident is not None else "—"


def notification_state_html(notification):
    if notification.state == NotificationState.FAILED:
        return format_html(
            '<strong style="color:{}">failed after {} attempts</strong>',
            OVERDUE_COLOUR,
            notification.attempts,
        )
    if notification.state == NotificationState.PENDING and notification.attempts:
        return f"pending (retry {notification.attempts + 1})"
    return notification.get_state_display()


class ReadOnlyAdminMixin:
    """Evidence and history: viewed, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class LatestRowsFormSet(BaseInlineFormSet):
    """An inline formset showing only the newest rows (the inline sets ``max_rows``)."""

    max_rows = 50

    def get_queryset(self):
        if not hasattr(self, "_latest_rows"):
            self._latest_rows = super().get_queryset()[: self.max_rows]
        return self._latest_rows


class ReadOnlyInline(admin.TabularInline):
    """A read-only, newest-first list of an incident's records (at most ``max_rows``)."""

    formset = LatestRowsFormSet
    classes = ("atoc-record",)
    extra = 0
    max_rows = 50
    can_delete = False
    show_change_link = False
    related: tuple[str, ...] = ()
    newest_first: tuple[str, ...] = ("-id",)

    class Media:
        css = {"all": ("escalations/admin.css",)}

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related(*self.related).order_by(*self.newest_first)
        )

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.max_rows = self.max_rows
        return formset

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def run_per_row(
    modeladmin: admin.ModelAdmin,
    request,
    rows: Iterable,
    call: Callable,
    *,
    done: str,
    label: Callable = lambda row: f"#{row.pk}",
    unchanged: Callable | None = None,
    unchanged_text: str = "no change",
) -> None:
    """Call a service for each row and report every success and refusal.

    ``call(row)`` performs the change (a service call); a ``DomainError`` becomes an
    error message naming the row and the reason. ``unchanged(row)`` (checked
    before the call) tells rows for which the service is a no-op.
    """
    changed, same = [], []
    for row in rows:
        was_unchanged = unchanged(row) if unchanged else False
        try:
            call(row)
        except DomainError as exc:
            modeladmin.message_user(request, f"{label(row)}: {exc.message}", messages.ERROR)
            continue
        (same if was_unchanged else changed).append(label(row))
    if changed:
        modeladmin.message_user(request, f"{done}: {', '.join(changed)}.", messages.SUCCESS)
    if same:
        modeladmin.message_user(
            request, f"{unchanged_text.capitalize()}: {', '.join(same)}.", messages.WARNING
        )


ACTION_FORM_TEMPLATE = "admin/escalations/action_form.html"


def render_action_form(
    modeladmin: admin.ModelAdmin,
    request,
    *,
    rows: list[tuple[int, list]],
    headers: list[str],
    form,
    action: str,
    title: str,
    intro: str,
    submit: str,
):
    """The intermediate page of an action that needs input (a rationale, a reason).

    ``rows`` are ``(pk, cells)`` of the selected objects; posting the form runs the
    action again with ``apply`` set.
    """
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "submit": submit,
        "opts": modeladmin.opts,
        "headers": headers,
        "rows": [{"pk": pk, "cells": cells} for pk, cells in rows],
        "form": form,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return render(request, ACTION_FORM_TEMPLATE, context)
