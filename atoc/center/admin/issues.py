"""Systemic issues: the proposals operators confirm, dismiss, merge or close."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from atoc.center import selectors
from atoc.center.choices import ACTIVE_ISSUE_STATES
from atoc.center.dashboard import freshness
from atoc.center.models import SystemicIssue
from atoc.center.services.issues import (
    systemic_issue_close,
    systemic_issue_confirm,
    systemic_issue_dismiss,
    systemic_issue_merge,
)
from atoc.core.exceptions import DomainError
from atoc.core.history import save_with_history
from escalations.admin.base import incident_due_html, render_action_form, severity_badge


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


class MergeForm(forms.Form):
    into = forms.ModelChoiceField(
        queryset=SystemicIssue.objects.filter(state__in=ACTIVE_ISSUE_STATES).order_by("-pk"),
        label="Merge into",
        help_text="The issue that takes over the selected issues' incidents.",
    )
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))


@admin.register(SystemicIssue)
class SystemicIssueAdmin(SimpleHistoryAdmin):
    """Trust debt across teams. Proposed by the job; operators decide with the actions."""

    list_display = (
        "number",
        "title",
        "basis_display",
        "state",
        "incident_count",
        "team_count",
        "agent_count",
        "last_incident_at",
        "proposed_at",
    )
    list_display_links = ("number", "title")
    list_filter = ("state", "basis")
    list_select_related = ("component", "pact")
    search_fields = ("title", "component__name", "pact__slug")
    actions = ("confirm_selected", "dismiss_selected", "merge_selected", "close_selected")
    fields = (
        "title",
        "description",
        "basis_display",
        "state",
        "merged_into",
        "proposed_at",
        "confirmed_at",
        "confirmed_by",
        "closed_at",
        "resolution_note",
        "reopened_count",
        "counts",
        "incidents",
    )
    readonly_fields = (
        "basis_display",
        "state",
        "merged_into",
        "proposed_at",
        "confirmed_at",
        "confirmed_by",
        "closed_at",
        "resolution_note",
        "reopened_count",
        "counts",
        "incidents",
    )

    def has_add_permission(self, request):
        return False  # proposed by the job

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        # Only the title and description are edited here (descriptive text).
        if form.changed_data:
            save_with_history(
                obj,
                actor=request.user,
                reason="Description edited in the admin",
                update_fields=[f for f in form.changed_data if f in ("title", "description")],
            )

    @admin.display(description="issue", ordering="-id")
    def number(self, issue):
        return f"#{issue.pk}"

    @admin.display(description="shared")
    def basis_display(self, issue):
        return issue.basis_label

    @admin.display(description="counts")
    def counts(self, issue):
        return (
            f"{issue.incident_count} incidents on {issue.agent_count} agents of "
            f"{issue.team_count} teams"
        )

    @admin.display(description="incidents (newest 100)")
    def incidents(self, issue):
        if issue.pk is None:
            return "—"
        now = timezone.now()
        rows = selectors.issue_incidents(issue=issue)
        if not rows:
            return "No incident linked."
        body = format_html_join(
            "",
            "<tr><td><a href='{}'>#{}</a>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:escalations_incident_change", args=[link.incident_id]),
                    link.incident_id,
                    " (repeat)" if link.repeat else "",
                    link.incident.agent.slug,
                    link.incident.agent.team.name,
                    severity_badge(link.incident.severity.name),
                    link.incident.get_state_display(),
                    incident_due_html(link.incident, now),
                    freshness(link.incident.agent, now)[1],
                )
                for link in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>Incident</th><th>Agent</th><th>Team</th><th>Severity</th>"
            "<th>Action state</th><th>Due</th><th>Freshness</th></tr></thead><tbody>{}</tbody>"
            "</table>",
            body,
        )

    # --- actions ---------------------------------------------------------------------

    def _each(self, request, issues, call, done: str) -> None:
        ok = []
        for issue in issues:
            try:
                call(issue)
            except DomainError as exc:
                self.message_user(request, f"#{issue.pk}: {exc.message}", messages.ERROR)
            else:
                ok.append(f"#{issue.pk}")
        if ok:
            self.message_user(request, f"{done}: {', '.join(ok)}.", messages.SUCCESS)

    def _form(self, request, issues, form, *, action, title, intro, submit):
        return render_action_form(
            self,
            request,
            rows=[
                (
                    issue.pk,
                    [
                        f"#{issue.pk}",
                        issue.title,
                        issue.basis_label,
                        issue.get_state_display(),
                        issue.incident_count,
                    ],
                )
                for issue in issues
            ],
            headers=["Issue", "Title", "Shared", "State", "Incidents"],
            form=form,
            action=action,
            title=title,
            intro=intro,
            submit=submit,
        )

    def _selected(self, queryset):
        return list(queryset.select_related("component", "pact").order_by("pk"))

    @admin.action(description="Confirm selected issues", permissions=["change"])
    def confirm_selected(self, request, queryset):
        self._each(
            request,
            self._selected(queryset),
            lambda issue: systemic_issue_confirm(issue=issue, actor=request.user),
            "Confirmed",
        )

    @admin.action(description="Dismiss selected issues…", permissions=["change"])
    def dismiss_selected(self, request, queryset):
        issues = self._selected(queryset)
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            self._each(
                request,
                issues,
                lambda issue: systemic_issue_dismiss(
                    issue=issue, reason=form.cleaned_data["reason"], actor=request.user
                ),
                "Dismissed",
            )
            return None
        return self._form(
            request,
            issues,
            form,
            action="dismiss_selected",
            title="Dismiss systemic issues",
            intro="Not a pattern: the incidents are unlinked; the job proposes the same "
            "component or pact again only from newer incidents.",
            submit="Dismiss",
        )

    @admin.action(description="Merge selected issues into another…", permissions=["change"])
    def merge_selected(self, request, queryset):
        issues = self._selected(queryset)
        form = MergeForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            into = form.cleaned_data["into"]
            self._each(
                request,
                [issue for issue in issues if issue.pk != into.pk],
                lambda issue: systemic_issue_merge(
                    issue=issue, into=into, reason=form.cleaned_data["reason"], actor=request.user
                ),
                f"Merged into #{into.pk}",
            )
            return None
        return self._form(
            request,
            issues,
            form,
            action="merge_selected",
            title="Merge systemic issues",
            intro="The selected issues' incidents move to the issue you choose, and so do "
            "later incidents on their component or pact.",
            submit="Merge",
        )

    @admin.action(description="Close selected issues (fixed)…", permissions=["change"])
    def close_selected(self, request, queryset):
        issues = self._selected(queryset)
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            self._each(
                request,
                issues,
                lambda issue: systemic_issue_close(
                    issue=issue, note=form.cleaned_data["reason"], actor=request.user
                ),
                "Closed",
            )
            return None
        return self._form(
            request,
            issues,
            form,
            action="close_selected",
            title="Close systemic issues",
            intro="Say what fixed it. A new incident on a closed issue reopens it and counts "
            "as a repeat.",
            submit="Close",
        )
