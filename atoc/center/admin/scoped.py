"""Risk acceptances, signals, silences and disputes as the center runs them: held to teams.

escalations and trust own these admins and must not import the center, so the
center registers subclasses that hold an operator limited to some teams to the
agents of those teams, as it does for incidents and agents:

* adding a row for another team's agent (or incident) is refused on the form's
  ``agent`` (or ``incident``) field and nothing is written;
* changelist actions (approve, reject, resolve) skip rows of other teams and
  name them;
* another team's silence or dispute is only viewed: no edit, no resolve.

A silence of a component spans every team whose agents use the component, so
only an operator acting fleet-wide may create or edit one. Every list still
shows the whole fleet: reading is not limited. Superusers, operators without a
scope and the system account act fleet-wide.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import HttpResponseRedirect
from django.urls import reverse

from atoc.center.access import authorize, require_fleet_wide, scope_team_ids
from atoc.center.admin.base import authorize_on_form, in_scope, refused_on, scoped_actions
from atoc.core.exceptions import DomainError
from escalations.admin.evidence import SignalAdmin
from escalations.admin.reference import SilenceAdmin
from escalations.admin.risk import RiskAcceptanceAdmin
from escalations.models import RiskAcceptance, Signal, Silence
from trust.admin.disputes import DisputeAdmin
from trust.models import Dispute


class CenterRiskAcceptanceAdmin(RiskAcceptanceAdmin):
    """Risk acceptances requested, approved and rejected for the operator's teams only."""

    def get_actions(self, request):
        return scoped_actions(super().get_actions(request), team_field="incident__agent__team_id")

    def save_model(self, request, obj, form, change):
        incident = form.cleaned_data["incident"]
        authorize_on_form(
            request.user,
            field="incident",
            permission="escalations.add_riskacceptance",
            team_id=incident.agent.team_id,
            what=f"request a risk acceptance of incident #{incident.pk}",
        )
        super().save_model(request, obj, form, change)


class CenterSignalAdmin(SignalAdmin):
    """Signals recorded by hand on the operator's teams' agents only."""

    def save_model(self, request, obj, form, change):
        agent = form.cleaned_data["agent"]
        authorize_on_form(
            request.user,
            field="agent",
            permission="escalations.add_signal",
            team_id=agent.team_id,
            what=f"record a signal on agent {agent.slug}",
        )
        super().save_model(request, obj, form, change)


class CenterSilenceAdmin(SilenceAdmin):
    """Silences of the operator's teams' agents; component silences need a fleet-wide operator."""

    def has_change_permission(self, request, obj=None):
        if obj is not None and not self._in_scope(request, obj):
            return False  # another team's silence, or a component's: only viewed
        return super().has_change_permission(request, obj)

    @staticmethod
    def _in_scope(request, silence) -> bool:
        if silence.agent_id is None:
            return scope_team_ids(request.user) is None  # a component's silence spans teams
        return in_scope(request.user, silence.agent.team_id)

    def save_model(self, request, obj, form, change):
        if not change:
            agent, component = form.cleaned_data.get("agent"), form.cleaned_data.get("component")
            if agent is not None and component is None:
                authorize_on_form(
                    request.user,
                    field="agent",
                    permission="escalations.add_silence",
                    team_id=agent.team_id,
                    what=f"silence agent {agent.slug}",
                )
            elif component is not None and agent is None:
                with refused_on("component"):
                    require_fleet_wide(
                        request.user,
                        permission="escalations.add_silence",
                        what=f"silence component {component}",
                    )
        super().save_model(request, obj, form, change)


class CenterDisputeAdmin(DisputeAdmin):
    """Disputes opened and resolved on the operator's teams' agents only."""

    def get_actions(self, request):
        return scoped_actions(super().get_actions(request), team_field="agent__team_id")

    def has_resolve_permission(self, request, dispute=None) -> bool:
        if dispute is not None and not in_scope(request.user, dispute.agent.team_id):
            return False
        return super().has_resolve_permission(request, dispute)

    def resolve_view(self, request, object_id):
        dispute = self.get_object(request, unquote(object_id))
        if dispute is not None and not in_scope(request.user, dispute.agent.team_id):
            try:
                authorize(
                    request.user,
                    permission="trust.change_dispute",
                    team_ids=[dispute.agent.team_id],
                    what=f"resolve dispute {dispute.reference}",
                )
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:trust_dispute_change", args=[dispute.pk]))
        return super().resolve_view(request, object_id)

    def save_model(self, request, obj, form, change):
        agent = form.cleaned_data["agent"]
        authorize_on_form(
            request.user,
            field="agent",
            permission="trust.add_dispute",
            team_id=agent.team_id,
            what=f"open a dispute on agent {agent.slug}",
        )
        super().save_model(request, obj, form, change)


for model, model_admin in (
    (RiskAcceptance, CenterRiskAcceptanceAdmin),
    (Signal, CenterSignalAdmin),
    (Silence, CenterSilenceAdmin),
    (Dispute, CenterDisputeAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
