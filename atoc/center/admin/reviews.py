"""Fleet reviews: the review page lists the agents due with their evidence."""

from __future__ import annotations

import math

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from atoc.center import selectors
from atoc.center.admin.base import parse_id, parse_page
from atoc.center.charts import sparkline
from atoc.center.choices import ACTIVE_ISSUE_STATES, FleetReviewState
from atoc.center.dashboard import action_text, freshness
from atoc.center.models import FleetReview, SystemicIssue
from atoc.center.services.reviews import (
    review_complete,
    review_mark_agents,
    review_record_findings,
)
from atoc.core.exceptions import DomainError
from trust.models import Agent

PAGE = 50


class FindingsForm(forms.Form):
    findings = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 80}))
    actions_agreed = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 80})
    )
    systemic_issues = forms.ModelMultipleChoiceField(
        queryset=SystemicIssue.objects.filter(state__in=ACTIVE_ISSUE_STATES).order_by("-pk"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Systemic issues this review raised or discussed.",
    )


@admin.register(FleetReview)
class FleetReviewAdmin(SimpleHistoryAdmin):
    """Reviews per tier on the tier's cadence; the review page is where the work happens."""

    list_display = ("__str__", "tier", "due_on", "state", "covered_count", "completed_at", "page")
    list_filter = ("state", "tier")
    readonly_fields = (
        "tier", "due_on", "cadence", "state", "findings", "actions_agreed", "created_at",
        "completed_at", "completed_by",
    )  # fmt: skip
    fields = readonly_fields

    def has_add_permission(self, request):
        return False  # opened by the scheduling job

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(n_covered=Count("covered"))

    @admin.display(description="agents covered", ordering="n_covered")
    def covered_count(self, review):
        return review.n_covered

    @admin.display(description="review page")
    def page(self, review):
        url = reverse("admin:center_fleetreview_review", args=[review.pk])
        return format_html('<a href="{}">open</a>', url)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        review_id = parse_id(object_id)
        if review_id is None:  # the admin's own "does not exist" answer
            return super().change_view(request, object_id, form_url, extra_context)
        return HttpResponseRedirect(reverse("admin:center_fleetreview_review", args=[review_id]))

    def get_urls(self):
        view = self.admin_site.admin_view(self.review_view)
        return [
            path("<int:review_id>/review/", view, name="center_fleetreview_review"),
            *super().get_urls(),
        ]

    def review_view(self, request, review_id: int):
        """Agents due with their evidence; mark reviewed, record findings, complete."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        review = get_object_or_404(FleetReview, pk=review_id)
        url = reverse("admin:center_fleetreview_review", args=[review.pk])
        findings_form = FindingsForm(
            initial={
                "findings": review.findings,
                "actions_agreed": review.actions_agreed,
                "systemic_issues": list(review.systemic_issues.all()),
            }
        )
        if request.method == "POST":
            try:
                if "_mark" in request.POST:
                    raw = request.POST.getlist("agent")
                    ids = [parse_id(pk) for pk in raw]
                    if None in ids:
                        bad = raw[ids.index(None)]
                        self.message_user(
                            request,
                            f"{bad[:40]!r} is not an agent id; no agent was marked reviewed.",
                            messages.ERROR,
                        )
                        return HttpResponseRedirect(url)
                    added = review_mark_agents(
                        review=review,
                        agents=Agent.objects.filter(pk__in=ids),
                        note=request.POST.get("note", ""),
                        actor=request.user,
                    )
                    self.message_user(
                        request, f"Marked {added} agent(s) reviewed.", messages.SUCCESS
                    )
                    return HttpResponseRedirect(url)
                if "_findings" in request.POST:
                    findings_form = FindingsForm(request.POST)
                    if findings_form.is_valid():
                        data = findings_form.cleaned_data
                        review_record_findings(
                            review=review,
                            findings=data["findings"],
                            actions_agreed=data["actions_agreed"],
                            systemic_issues=data["systemic_issues"],
                            actor=request.user,
                        )
                        self.message_user(request, "Findings recorded.", messages.SUCCESS)
                        return HttpResponseRedirect(url)
                if "_complete" in request.POST:
                    review_complete(review=review, actor=request.user)
                    self.message_user(request, f"The {review} is completed.", messages.SUCCESS)
                    return HttpResponseRedirect(url)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(url)
        now = timezone.now()
        page = parse_page(request.GET.get("p"))
        due = selectors.review_agents_due(review=review, now=now)
        agents = list(due[(page - 1) * PAGE : page * PAGE + 1])
        if not agents and page > 1:
            # Past the end: show the last page, as Django's paginator does.
            page = max(1, math.ceil(due.count() / PAGE))
            agents = list(due[(page - 1) * PAGE : page * PAGE + 1])
        has_next = len(agents) > PAGE
        agents = agents[:PAGE]
        evidence = selectors.agents_evidence(agents=agents, now=now)
        actions = selectors.agents_action_states([a.pk for a in agents], now=now)
        rows = [
            {
                "agent": agent,
                "freshness": freshness(agent, now),
                "trend": sparkline(
                    evidence[agent.pk]["scores"], width=90, height=20, low=0, high=1000
                ),
                "evidence": evidence[agent.pk],
                "action": actions.get(agent.pk),
                "action_text": action_text(actions.get(agent.pk), now),
            }
            for agent in agents
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": str(review),
            "opts": self.opts,
            "review": review,
            "rows": rows,
            "page": page,
            "has_next": has_next,
            "covered": selectors.review_covered(review=review),
            "findings_form": findings_form,
            "is_open": review.state == FleetReviewState.OPEN,
            "can_act": self.has_change_permission(request, review),
        }
        return TemplateResponse(request, "admin/center/fleet_review.html", context)
