"""Risk acceptances and signals as the center runs them: held to teams.

escalations owns these admins and must not import the center, so the
center registers subclasses that hold an operator limited to some teams to the
agents of those teams, as it does for incidents and agents:

* adding a row for another team's agent (or incident) is refused on the form's
  ``agent`` (or ``incident``) field and nothing is written;
* changelist actions (approve, reject) skip rows of other teams and name them.

Every list still shows the whole fleet: reading is not limited. Superusers,
operators without a scope and the system account act fleet-wide.
"""

from __future__ import annotations

from django.contrib import admin

from atoc.center.access import authorize
from atoc.center.admin.base import refused_on, scoped_actions
from escalations.admin.evidence import SignalAdmin
from escalations.admin.risk import RiskAcceptanceAdmin
from escalations.models import RiskAcceptance, Signal


class CenterRiskAcceptanceAdmin(RiskAcceptanceAdmin):
    """Risk acceptances requested, approved and rejected for the operator's teams only."""

    def get_actions(self, request):
        return scoped_actions(super().get_actions(request), team_field="incident__agent__team_id")

    def save_model(self, request, obj, form, change):
        incident = form.cleaned_data["incident"]
        with refused_on("incident"):
            authorize(
                request.user,
                permission="escalations.add_riskacceptance",
                team_ids=[incident.agent.team_id],
                what=f"request a risk acceptance of incident #{incident.pk}",
            )
        super().save_model(request, obj, form, change)


class CenterSignalAdmin(SignalAdmin):
    """Signals recorded by hand on the operator's teams' agents only."""

    def save_model(self, request, obj, form, change):
        agent = form.cleaned_data["agent"]
        with refused_on("agent"):
            authorize(
                request.user,
                permission="escalations.add_signal",
                team_ids=[agent.team_id],
                what=f"record a signal on agent {agent.slug}",
            )
        super().save_model(request, obj, form, change)


for model, model_admin in (
    (RiskAcceptance, CenterRiskAcceptanceAdmin),
    (Signal, CenterSignalAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
