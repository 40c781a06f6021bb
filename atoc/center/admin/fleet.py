"""The agent's trust story (one page) and the agent actions: restrict, suspend, restore.

trust owns the agent admin; the center registers a subclass that links each agent
to its story page, shows what the agent's incidents await (the action state, read
with ``selectors.agents_action_states``, which trust cannot import) and adds the
actions, each of which records a Decision through
``atoc.center.services.agents.agent_act`` (checked against the operator's role
and teams).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from atoc.center import selectors
from atoc.center.admin.base import parse_id, scoped_actions
from atoc.center.charts import score_chart
from atoc.center.choices import AgentAction
from atoc.center.dashboard import action_text, freshness
from atoc.center.services.agents import agent_act
from atoc.core.exceptions import DomainError
from escalations.admin.base import OVERDUE_COLOUR, render_action_form
from trust.admin.agents import AgentAdmin
from trust.models import Agent
from trust.selectors import agent_list

ACTION_HELP = {
    AgentAction.RESTRICT: "Status restricted, a human in the loop.",
    AgentAction.SUSPEND: "Status suspended, no autonomy, routing blocked.",
    AgentAction.RESTORE: "Back to active, supervised, live.",
}


class AgentActionForm(forms.Form):
    """Why the agent is restricted, suspended or restored (kept with the Decision)."""

    action = forms.ChoiceField(choices=AgentAction.choices, widget=forms.HiddenInput)
    rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why: kept with the decision and in the agent's history.",
    )


class RationaleForm(forms.Form):
    rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why: kept with each decision and in each agent's history.",
    )


def action_html(action, now):
    """The action state as a cell: overdue stands out, the incident it comes from linked."""
    text = action_text(action, now)
    if action is None or action.incident_id is None:
        return text
    url = reverse("admin:escalations_incident_change", args=[action.incident_id])
    more = f", {action.open_count - 1} more unresolved" if action.open_count > 1 else ""
    if action.overdue:
        return format_html(
            '<strong style="color:{}">{}</strong> (<a href="{}">#{}</a>{})',
            OVERDUE_COLOUR,
            text,
            url,
            action.incident_id,
            more,
        )
    return format_html('{} (<a href="{}">#{}</a>{})', text, url, action.incident_id, more)


def _after(names: tuple, anchor: str, *added: str) -> tuple:
    """``names`` with ``added`` right after ``anchor``."""
    at = names.index(anchor) + 1
    return (*names[:at], *added, *names[at:])


class AgentChangeList(ChangeList):
    """The agent list, each row told what its incidents await: one query for the page."""

    def get_results(self, request):
        super().get_results(request)
        now = timezone.now()
        agents = list(self.result_list)  # evaluates the page once; the rows are reused
        actions = selectors.agents_action_states([a.pk for a in agents], now=now)
        for agent in agents:
            agent.action_cell = action_html(actions.get(agent.pk), now)


class CenterAgentAdmin(AgentAdmin):
    """trust's agent admin with the action state, the trust story page and the agent actions.

    The list's action column is loaded for the whole page by ``AgentChangeList``; the
    change page reads it for its one agent.
    """

    list_display = (
        "story_link",
        *_after(AgentAdmin.list_display, "severity_display", "action_display"),
    )
    read_fields = _after(AgentAdmin.read_fields, "freshness_display", "action_display")
    actions = ("restrict_selected", "suspend_selected", "restore_selected")

    def get_changelist(self, request, **kwargs):
        return AgentChangeList

    @admin.display(description="action state")
    def action_display(self, agent):
        if not hasattr(agent, "action_cell"):  # the change page: this one agent
            now = timezone.now()
            action = selectors.agents_action_states([agent.pk], now=now).get(agent.pk)
            agent.action_cell = action_html(action, now)
        return agent.action_cell

    def get_actions(self, request):
        return scoped_actions(super().get_actions(request), team_field="team_id")

    def get_urls(self):
        story = self.admin_site.admin_view(self.story_view)
        return [
            path("<int:agent_id>/story/", story, name="center_agent_story"),
            *super().get_urls(),
        ]

    @admin.display(description="story")
    def story_link(self, agent):
        url = reverse("admin:center_agent_story", args=[agent.pk])
        return format_html('<a href="{}" title="The agent\'s trust story">story</a>', url)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        agent_id = parse_id(object_id)
        if agent_id is not None:
            extra_context["story_url"] = reverse("admin:center_agent_story", args=[agent_id])
        return super().change_view(request, object_id, form_url, extra_context)

    # --- the story page -------------------------------------------------------------

    def story_view(self, request, agent_id: int):
        """One screen: state, pact, scores, evidence, incidents, decisions, disputes."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        agent = get_object_or_404(agent_list(), pk=agent_id)
        url = reverse("admin:center_agent_story", args=[agent.pk])
        forms_by_action = {
            action: AgentActionForm(initial={"action": action}) for action in AgentAction
        }
        if request.method == "POST":
            form = AgentActionForm(request.POST)
            if form.is_valid():
                action = form.cleaned_data["action"]
                try:
                    decision = agent_act(
                        agent=agent,
                        action=action,
                        rationale=form.cleaned_data["rationale"],
                        actor=request.user,
                    )
                except DomainError as exc:
                    self.message_user(request, exc.message, messages.ERROR)
                else:
                    self.message_user(
                        request,
                        f"{AgentAction(action).label}: {agent.slug} is now "
                        f"{decision.agent_after.get('status')} (decision #{decision.pk}).",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(url)
            else:
                forms_by_action[request.POST.get("action")] = form
        now = timezone.now()
        story = selectors.agent_story(agent=agent, now=now)
        can_act = self.has_change_permission(request, agent)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Trust story of {agent.slug}",
            "opts": self.opts,
            "agent": agent,
            "story": story,
            "now": now,
            "freshness": freshness(agent, now),
            "action_text": action_text(story.action, now),
            "chart": score_chart(story.scores),
            "incidents_open": [
                (i, action_text(selectors.incident_action_state(i, now=now), now))
                for i in story.open_incidents
            ],
            "action_forms": [
                (AgentAction(action), ACTION_HELP[action], form)
                for action, form in forms_by_action.items()
                if action in AgentAction.values
            ]
            if can_act
            else [],
        }
        return TemplateResponse(request, "admin/center/agent_story.html", context)

    # --- changelist actions ------------------------------------------------------------

    def _act_selected(self, request, queryset, action: str):
        agents = list(queryset.select_related("team").order_by("pk"))
        form = RationaleForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done = []
            for agent in agents:
                try:
                    agent_act(
                        agent=agent,
                        action=action,
                        rationale=form.cleaned_data["rationale"],
                        actor=request.user,
                    )
                except DomainError as exc:
                    self.message_user(request, f"{agent.slug}: {exc.message}", messages.ERROR)
                else:
                    done.append(agent.slug)
            if done:
                self.message_user(
                    request, f"{AgentAction(action).label}: {', '.join(done)}.", messages.SUCCESS
                )
            return None
        now = timezone.now()
        awaiting = selectors.agents_action_states([agent.pk for agent in agents], now=now)
        return render_action_form(
            self,
            request,
            rows=[
                (
                    agent.pk,
                    [
                        agent.slug,
                        agent.team,
                        agent.get_status_display(),
                        agent.get_autonomy_display(),
                        agent.get_routing_display(),
                        freshness(agent, now)[1],
                        agent.highest_open_severity or "none open",
                        action_text(awaiting.get(agent.pk), now),
                    ],
                )
                for agent in agents
            ],
            headers=[
                *("Agent", "Team", "Status", "Autonomy", "Routing"),
                *("Freshness", "Severity", "Action state"),
            ],
            form=form,
            action=f"{action}_selected",
            title=f"{AgentAction(action).label}: selected agents",
            intro=f"{ACTION_HELP[action]} Each agent gets a Decision with your rationale.",
            submit=AgentAction(action).label,
        )

    @admin.action(description="Restrict selected agents…", permissions=["change"])
    def restrict_selected(self, request, queryset):
        return self._act_selected(request, queryset, AgentAction.RESTRICT)

    @admin.action(description="Suspend selected agents…", permissions=["change"])
    def suspend_selected(self, request, queryset):
        return self._act_selected(request, queryset, AgentAction.SUSPEND)

    @admin.action(description="Restore selected agents…", permissions=["change"])
    def restore_selected(self, request, queryset):
        return self._act_selected(request, queryset, AgentAction.RESTORE)


admin.site.unregister(Agent)
admin.site.register(Agent, CenterAgentAdmin)
