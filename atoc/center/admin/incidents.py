"""The incident admin as the center runs it: team-scoped actions, systemic issue links.

escalations owns the incident admin and must not import the center, so the
center registers a subclass: every action is held to the operator's teams, an
action links incidents to a systemic issue, and the unfiltered list of a million
incidents uses the planner's row estimate instead of counting them and picks a
page's rows before joining what the list shows.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from atoc.center.admin.base import PageFirstPaginator, in_scope, scoped_actions
from atoc.center.choices import ACTIVE_ISSUE_STATES
from atoc.center.models import SystemicIssue
from atoc.center.services.issues import systemic_issue_link_incidents
from atoc.core.exceptions import DomainError
from escalations.admin.incidents import IncidentAdmin
from escalations.models import Incident


class LinkIssueForm(forms.Form):
    """Which proposed or confirmed systemic issue the selected incidents belong to."""

    issue = forms.ModelChoiceField(
        queryset=SystemicIssue.objects.filter(state__in=ACTIVE_ISSUE_STATES).order_by("-pk"),
        label="Systemic issue",
    )


class CenterIncidentAdmin(IncidentAdmin):
    """escalations' incident admin, held to the operator's teams (see the module)."""

    paginator = PageFirstPaginator
    actions = (*IncidentAdmin.actions, "link_to_systemic_issue_selected")

    def get_actions(self, request):
        return scoped_actions(super().get_actions(request), team_field="agent__team_id")

    def page_actions(self, request, incident):
        if not in_scope(request.user, incident.agent.team_id):
            return []  # another team's incident: the operator only reads it
        return super().page_actions(request, incident)

    @admin.action(
        description="Link selected incidents to a systemic issue…", permissions=["change"]
    )
    def link_to_systemic_issue_selected(self, request, queryset):
        incidents = self._selected(queryset)
        form = LinkIssueForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            issue = form.cleaned_data["issue"]
            try:
                added = systemic_issue_link_incidents(
                    issue=issue, incidents=incidents, actor=request.user
                )
            except DomainError as exc:
                self.message_user(request, exc.message, level="error")
                return None
            self.message_user(
                request,
                f"Linked {added} incident(s) to systemic issue #{issue.pk}"
                + (
                    f"; {len(incidents) - added} were already on it."
                    if added < len(incidents)
                    else "."
                ),
                level="success",
            )
            return None
        return self._action_form(
            request,
            incidents,
            form,
            action="link_to_systemic_issue_selected",
            title="Link incidents to a systemic issue",
            intro="The incidents become part of the issue: its counts, the fleet picture and "
            "the repeat rate follow them.",
            submit="Link",
        )


admin.site.unregister(Incident)
admin.site.register(Incident, CenterIncidentAdmin)
