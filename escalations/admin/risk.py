"""Admin for risk acceptances: requested here, approved by someone else, rejected with a reason."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from escalations.admin.base import (
    IncidentColumnsMixin,
    incident_link,
    render_action_form,
    run_per_row,
)
from escalations.choices import RiskAcceptanceState
from escalations.models import RiskAcceptance
from escalations.services.risk import (
    risk_acceptance_approve,
    risk_acceptance_reject,
    risk_acceptance_request,
)
from trust.admin.base import ServiceAdminMixin, ServiceModelForm, adopt, refusals_for


class RiskAcceptanceForm(ServiceModelForm):
    class Meta:
        model = RiskAcceptance
        fields = ("incident", "rationale", "expires_at")


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why the risk is not accepted; kept with the request.",
    )


@admin.register(RiskAcceptance)
class RiskAcceptanceAdmin(IncidentColumnsMixin, ServiceAdminMixin, SimpleHistoryAdmin):
    """Exceptions to acting: a trust risk accepted until a date, approved by a second person.

    Requesting goes through ``risk_acceptance_request``; ``approve_selected`` and
    ``reject_selected`` call the services (a requester cannot approve their own).
    A request is read-only once made. Each row also shows the incident's severity
    and action state as they are now.
    """

    form = RiskAcceptanceForm
    list_display = (
        "id",
        "incident_display",
        "incident_severity",
        "incident_action",
        "state",
        "expires_at",
        "requested_by",
        "approved_by",
        "requested_at",
    )
    list_filter = ("state", "expires_at")
    list_select_related = ("requested_by", "approved_by", "incident__severity")
    search_fields = ("incident__agent__slug", "rationale")
    autocomplete_fields = ("incident",)
    actions = ("approve_selected", "reject_selected")
    view_fields = (
        "incident",
        "incident_severity",
        "incident_action",
        "state",
        "rationale",
        "expires_at",
        "requested_by",
        "requested_at",
        "approved_by",
        "approved_at",
        "closed_at",
        "closing_note",
    )

    def get_fields(self, request, obj=None):
        return RiskAcceptanceForm.Meta.fields if obj is None else self.view_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.view_fields

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request)

    @admin.display(description="incident", ordering="incident")
    def incident_display(self, acceptance):
        return incident_link(acceptance.incident_id)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        with refusals_for():
            acceptance = risk_acceptance_request(
                incident=data["incident"],
                rationale=data["rationale"],
                expires_at=data["expires_at"],
                actor=request.user,
            )
        adopt(obj, acceptance)

    @admin.action(description="Approve selected risk acceptances", permissions=["change"])
    def approve_selected(self, request, queryset):
        run_per_row(
            self,
            request,
            list(queryset.order_by("pk")),
            lambda acceptance: risk_acceptance_approve(acceptance=acceptance, actor=request.user),
            done="Approved",
            label=lambda acceptance: f"risk acceptance #{acceptance.pk}",
            unchanged=lambda acceptance: acceptance.state == RiskAcceptanceState.APPROVED,
            unchanged_text="already approved",
        )

    @admin.action(description="Reject selected risk acceptances…", permissions=["change"])
    def reject_selected(self, request, queryset):
        acceptances = list(queryset.order_by("pk"))
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            run_per_row(
                self,
                request,
                acceptances,
                lambda acceptance: risk_acceptance_reject(
                    acceptance=acceptance, reason=form.cleaned_data["reason"], actor=request.user
                ),
                done="Rejected",
                label=lambda acceptance: f"risk acceptance #{acceptance.pk}",
                unchanged=lambda acceptance: acceptance.state == RiskAcceptanceState.REJECTED,
                unchanged_text="already rejected",
            )
            return None
        now = timezone.now()
        return render_action_form(
            self,
            request,
            headers=["Request", "Incident", "State", "Expires", "Rationale"],
            rows=[
                (
                    acceptance.pk,
                    [
                        f"#{acceptance.pk}",
                        incident_link(acceptance.incident_id),
                        acceptance.get_state_display(),
                        "expired" if acceptance.expires_at <= now else acceptance.expires_at,
                        acceptance.rationale,
                    ],
                )
                for acceptance in acceptances
            ],
            form=form,
            action="reject_selected",
            title="Reject risk acceptances",
            intro="The incidents keep climbing their ladders as if nothing was requested.",
            submit="Reject",
        )
