"""Admin for settlement disputes: opened and resolved through the services."""

import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from simple_history.admin import SimpleHistoryAdmin

from atoc.core.exceptions import DomainError
from trust import selectors
from trust.admin.base import ServiceAdminMixin, ServiceModelForm, adopt, refusals_for
from trust.choices import DisputeOutcome, DisputeState
from trust.models import Dispute
from trust.services.disputes import dispute_open, dispute_resolve


class DisputeForm(ServiceModelForm):
    """A new dispute: amount and currency checked on their fields."""

    class Meta:
        model = Dispute
        fields = (
            "agent",
            "reference",
            "counterparty",
            "amount",
            "currency",
            "description",
            "opened_at",
        )

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is not None and amount <= 0:
            raise forms.ValidationError("The amount at stake must be positive.")
        return amount

    def clean_currency(self):
        currency = (self.cleaned_data["currency"] or "").upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise forms.ValidationError("Use a three-letter ISO 4217 code, e.g. EUR.")
        return currency


class DisputeResolveForm(forms.Form):
    """How a dispute ended, and a note for the record."""

    outcome = forms.ChoiceField(choices=DisputeOutcome.choices)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


@admin.register(Dispute)
class DisputeAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    """Settlement disputes: opened through ``dispute_open``, closed through ``dispute_resolve``.

    A dispute is read-only once opened; resolving it (outcome and note) is done
    from its page or with the ``resolve_selected`` action.
    """

    form = DisputeForm
    list_display = (
        "reference",
        "agent",
        "counterparty",
        "at_stake",
        "state",
        "outcome",
        "opened_at",
        "resolved_at",
    )
    list_filter = ("state", "outcome", "currency", "opened_at")
    list_select_related = ("agent",)
    search_fields = ("reference", "counterparty", "agent__slug")
    autocomplete_fields = ("agent",)
    actions = ("resolve_selected",)
    change_form_template = "admin/trust/dispute/change_form.html"
    resolve_template = "admin/trust/dispute/resolve.html"
    add_fields = (
        "agent",
        "reference",
        "counterparty",
        "amount",
        "currency",
        "description",
        "opened_at",
    )
    resolution_fields = ("state", "outcome", "resolution_note", "resolved_at", "resolved_by")

    def get_queryset(self, request):
        return selectors.dispute_list()

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.add_fields
        return (*self.add_fields, "opened_by", *self.resolution_fields)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        # An opened dispute is only viewed; resolving it is its own flow.
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="at stake", ordering="amount")
    def at_stake(self, dispute):
        return f"{dispute.amount:,} {dispute.currency}"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        with refusals_for():
            dispute = dispute_open(
                agent=data["agent"],
                reference=data["reference"],
                counterparty=data["counterparty"],
                amount=data["amount"],
                currency=data["currency"],
                description=data.get("description", ""),
                opened_at=data.get("opened_at"),
                actor=request.user,
            )
        adopt(obj, dispute)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name="{}_{}_resolve".format(*info),
            ),
            *super().get_urls(),
        ]

    def has_resolve_permission(self, request, dispute=None) -> bool:
        """Whether the user may resolve disputes (``dispute``, when given)."""
        return super().has_change_permission(request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        dispute = self.get_object(request, unquote(object_id))
        can_resolve = (
            dispute is not None
            and dispute.state == DisputeState.OPEN
            and self.has_resolve_permission(request, dispute)
        )
        extra_context = {**(extra_context or {}), "can_resolve": can_resolve}
        return super().change_view(request, object_id, form_url, extra_context)

    def resolve_view(self, request, object_id):
        """Resolve one dispute: outcome and note, then ``dispute_resolve``."""
        if not self.has_resolve_permission(request):
            raise PermissionDenied
        dispute = self.get_object(request, unquote(object_id))
        if dispute is None:
            raise Http404("No such dispute.")
        if not self.has_resolve_permission(request, dispute):
            raise PermissionDenied
        form = DisputeResolveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                dispute_resolve(
                    dispute=dispute,
                    outcome=form.cleaned_data["outcome"],
                    note=form.cleaned_data["note"],
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                self.message_user(request, f"Dispute {dispute.reference} resolved.")
                url = reverse("admin:trust_dispute_change", args=[dispute.pk])
                return HttpResponseRedirect(url)
        return self._render_resolve(request, [dispute], form, single=True)

    @admin.action(description="Resolve selected disputes…", permissions=["change"])
    def resolve_selected(self, request, queryset):
        disputes = list(queryset.select_related("agent").order_by("pk"))
        form = DisputeResolveForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            resolved = []
            for dispute in disputes:
                try:
                    dispute_resolve(
                        dispute=dispute,
                        outcome=form.cleaned_data["outcome"],
                        note=form.cleaned_data["note"],
                        actor=request.user,
                    )
                except DomainError as exc:
                    self.message_user(
                        request, f"{dispute.reference}: {exc.message}", messages.ERROR
                    )
                else:
                    resolved.append(dispute.reference)
            if resolved:
                self.message_user(request, f"Resolved {', '.join(resolved)}.", messages.SUCCESS)
            return None
        return self._render_resolve(request, disputes, form, single=False)

    def _render_resolve(self, request, disputes, form, *, single):
        context = {
            **self.admin_site.each_context(request),
            "title": "Resolve dispute" if single else "Resolve disputes",
            "opts": self.opts,
            "disputes": disputes,
            "form": form,
            "single": single,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return render(request, self.resolve_template, context)
