"""The machinery shared by the trust admin: services behind admin forms, no deletes.

Every write that means something goes through a service with ``actor=request.user``.
When a service refuses (a :class:`~atoc.core.exceptions.DomainError`), the change
view's transaction is rolled back and the same submission is shown again with the
refusal on the field it names (see :class:`ServiceAdminMixin`).
"""

from contextlib import contextmanager
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.forms.models import InlineForeignKeyField
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from atoc.core.exceptions import DomainError

_REFUSAL_ATTR = "_trust_admin_refusal"


# --- display helpers ----------------------------------------------------------------


def short_duration(value: timedelta | None) -> str:
    """A duration as an operator reads it: "3 d", "5 h", "12 min"."""
    if value is None:
        return "—"
    seconds = abs(value.total_seconds())
    if seconds >= 86400:
        return f"{round(seconds / 86400)} d"
    if seconds >= 3600:
        return f"{round(seconds / 3600)} h"
    return f"{max(round(seconds / 60), 1)} min"


def ordered(queryset):
    """The queryset in its model's default order (``Meta.ordering`` is dropped by GROUP BY).

    Annotated querysets also feed the autocomplete views, which paginate them.
    """
    return queryset.order_by(*queryset.model._meta.ordering)


def changelist_link(model, text, **query) -> str:
    url = reverse(f"admin:trust_{model._meta.model_name}_changelist")
    params = "&".join(f"{key}={value}" for key, value in query.items())
    return format_html('<a href="{}?{}">{}</a>', url, params, text)


# --- services behind admin forms ----------------------------------------------------


class ServiceRefused(Exception):
    """A service refused a write made through an admin form.

    Raised from ``save_model``/``save_related`` so that the change view's
    transaction rolls back; ``form_prefix`` says which form of the page it belongs
    to (``None`` for the main form, an inline row's prefix otherwise).
    """

    def __init__(self, error: DomainError, *, form_prefix: str | None = None, field=None):
        super().__init__(error.message)
        self.message = error.message
        self.field = field or error.field
        self.form_prefix = form_prefix


@contextmanager
def refusals_for(form_prefix: str | None = None):
    """Turn a service's ``DomainError`` into a :class:`ServiceRefused` for one form."""
    try:
        yield
    except DomainError as exc:
        raise ServiceRefused(exc, form_prefix=form_prefix) from exc


def adopt(target, saved) -> None:
    """Make the admin's unsaved form instance stand for the row a service created.

    Django's log entry, message and redirect after "add" use the form instance.
    """
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


def check_as_form_error(check, *args, **kwargs) -> None:
    """Run one of the domain's validators; its refusal becomes a form ValidationError."""
    try:
        check(*args, **kwargs)
    except DomainError as exc:
        raise forms.ValidationError(exc.message) from exc


class ServiceModelForm(forms.ModelForm):
    """Base form of the trust admin; shows a service's refusal on the field it names."""

    refusal: ServiceRefused | None = None

    def clean(self):
        cleaned = super().clean()
        refusal = self.refusal
        if refusal is not None and refusal.form_prefix == self.prefix:
            field = refusal.field if refusal.field in self.fields else None
            if field is not None and isinstance(self.fields[field], InlineForeignKeyField):
                field = None
            self.add_error(field, refusal.message)
        return cleaned


class NoDeleteMixin:
    """Trust records are closed or superseded, never deleted from the admin."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class EvidenceAdminMixin(NoDeleteMixin):
    """Evidence is append-only: written by services, only ever viewed here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return helpers.flatten_fieldsets(self.get_fieldsets(request, obj))


class ServiceAdminMixin(NoDeleteMixin):
    """Change forms whose writes are made by services.

    ``save_model`` and ``save_related`` call services inside the change view's
    transaction. A refusal escapes that transaction as :class:`ServiceRefused`, so
    nothing the services wrote is kept; the same submission is then validated a
    second time with the refusal attached to its form, and the page comes back with
    the operator's input and the error next to the field it names.
    """

    form = ServiceModelForm

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refusal:
            setattr(request, _REFUSAL_ATTR, refusal)
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refusal:
            # The refusal names no form on this page: report it and show the page again.
            self.message_user(request, refusal.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, _REFUSAL_ATTR, None)
        if refusal is not None:
            form = type(form.__name__, (form,), {"refusal": refusal})
        return form

    def save_related(self, request, form, formsets, change):
        # Many-to-many fields and inline rows are written by the services, not by
        # form.save_m2m(); admins with editable inlines override this method.
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # Reverting to an old version would write around the services.
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return True


class ServiceInlineMixin:
    """Inline rows whose refusals are shown on the row the service refused."""

    form = ServiceModelForm
    extra = 0

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        refusal = getattr(request, _REFUSAL_ATTR, None)
        if refusal is not None:
            formset.form = type(formset.form.__name__, (formset.form,), {"refusal": refusal})
        return formset

    def has_delete_permission(self, request, obj=None):
        return False
