"""Admin for pacts, their versions and obligations: drafted, then published."""

import re
from datetime import timedelta

from django.contrib import admin, messages
from django.forms.models import InlineForeignKeyField
from simple_history.admin import SimpleHistoryAdmin

from atoc.core.exceptions import DomainError
from atoc.core.history import save_with_history
from trust import selectors
from trust.admin.base import (
    ServiceAdminMixin,
    ServiceInlineMixin,
    ServiceModelForm,
    ServiceRefused,
    adopt,
    changelist_link,
    check_as_form_error,
    ordered,
    refusals_for,
    short_duration,
)
from trust.choices import PactVersionState
from trust.models import Agent, Obligation, Pact, PactVersion
from trust.scoring import threshold_problem
from trust.services.pacts import (
    obligation_add,
    obligation_update,
    pact_create,
    pact_version_create,
    pact_version_publish,
    pact_version_update,
    validate_window,
)

OBLIGATION_FIELDS = (
    "metric",
    "description",
    "unit",
    "comparator",
    "threshold",
    "window",
    "breach_severity",
)
PUBLISHED_MESSAGE = "This pact version is published and cannot be changed; draft a new version."
_OBLIGATION_ERROR_FIELD = re.compile(r"^obligations\[(\d+)\]\.(\w+)$")


def published_and_displayed(request, version: PactVersion | None) -> bool:
    """A published version is shown read-only.

    A submission is still validated: a form opened while the version was a draft
    gets its refusal on the fields it tried to change instead of a bare 403.
    """
    return version is not None and version.is_published and request.method != "POST"


class PactVersionInline(admin.TabularInline):
    """The versions of a pact, read-only here (each is edited on its own page)."""

    model = PactVersion
    fields = ("number", "state", "freshness_window", "review_cadence", "published_at")
    readonly_fields = fields
    show_change_link = True
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("pact")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Pact)
class PactAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    """Pacts: named, versioned sets of obligations that many agents hold.

    A pact is created through ``pact_create``; its name and description are plain
    reference data. Versions are drafted and published on the pact version pages.
    """

    list_display = ("slug", "name", "version_count", "latest_published")
    search_fields = ("slug", "name")
    fields = ("slug", "name", "description", "created_at")
    inlines = (PactVersionInline,)

    def get_queryset(self, request):
        return ordered(selectors.pact_list())

    def get_readonly_fields(self, request, obj=None):
        return ("created_at",) if obj is None else ("slug", "created_at")

    @admin.display(description="versions", ordering="version_count")
    def version_count(self, pact):
        return changelist_link(PactVersion, pact.version_count, pact__id__exact=pact.pk)

    @admin.display(description="latest published", ordering="latest_published_number")
    def latest_published(self, pact):
        number = pact.latest_published_number
        return f"v{number}" if number else "—"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            with refusals_for():
                pact = pact_create(
                    slug=data["slug"],
                    name=data["name"],
                    description=data.get("description", ""),
                    actor=request.user,
                )
            adopt(obj, pact)
        elif form.changed_data:
            save_with_history(
                obj,
                actor=request.user,
                reason="Pact details changed in the admin",
                update_fields=list(form.changed_data),
            )


class ObligationForm(ServiceModelForm):
    """An obligation checked with the pact service's own rules, each on its field."""

    class Meta:
        model = Obligation
        fields = ("pact_version", *OBLIGATION_FIELDS)

    def clean_window(self):
        window = self.cleaned_data["window"]
        check_as_form_error(validate_window, window, field="window")
        return window

    def clean(self):
        cleaned = super().clean()
        comparator, threshold, unit = (cleaned.get(k) for k in ("comparator", "threshold", "unit"))
        if comparator and unit and threshold is not None:
            problem = threshold_problem(comparator=comparator, threshold=threshold, unit=unit)
            if problem:
                self.add_error("threshold", problem)
        version = cleaned.get("pact_version")
        if version is None and self.instance.pact_version_id:
            version = self.instance.pact_version
        if version is not None and version.is_published and self.has_changed():
            if self.instance.pk:
                for name in self.changed_data:
                    self.add_error(name, PUBLISHED_MESSAGE)
            else:
                # On the standalone form the version is a field; in the inline it is the page.
                field = self.fields.get("pact_version")
                visible = field is not None and not isinstance(field, InlineForeignKeyField)
                target = "pact_version" if visible else None
                self.add_error(
                    target, f"Pact version {version} is published; add obligations to a draft."
                )
        return cleaned


class ObligationInline(ServiceInlineMixin, admin.TabularInline):
    """The obligations of a pact version: editable while it is a draft."""

    model = Obligation
    form = ObligationForm
    fields = OBLIGATION_FIELDS

    def _editable(self, request, obj):
        return not published_and_displayed(request, obj)

    def get_extra(self, request, obj=None, **kwargs):
        return 1 if self._editable(request, obj) else 0

    def has_add_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(request, obj)


class PactVersionForm(ServiceModelForm):
    """A pact version: positive windows, and no change once published."""

    class Meta:
        model = PactVersion
        fields = ("pact", "freshness_window", "review_cadence", "notes")

    def clean_freshness_window(self):
        value = self.cleaned_data["freshness_window"]
        check_as_form_error(validate_window, value, field="freshness_window")
        return value

    def clean_review_cadence(self):
        value = self.cleaned_data["review_cadence"]
        check_as_form_error(validate_window, value, field="review_cadence")
        return value

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and self.instance.is_published:
            for name in self.changed_data:
                self.add_error(name, PUBLISHED_MESSAGE)
        return cleaned


@admin.register(PactVersion)
class PactVersionAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    """Pact versions: drafted with their obligations, then published (and immutable).

    Adding calls ``pact_version_create`` with the obligations of the inline rows;
    a draft's windows, notes and obligations change through ``pact_version_update``,
    ``obligation_add`` and ``obligation_update``; the ``publish_selected`` action
    calls ``pact_version_publish``. A published version is shown read-only.
    """

    form = PactVersionForm
    inlines = (ObligationInline,)
    list_display = (
        "__str__",
        "pact",
        "number",
        "state",
        "freshness",
        "cadence",
        "obligation_count",
        "agent_count",
        "published_at",
    )
    list_display_links = ("__str__",)
    list_filter = ("state", "pact")
    list_select_related = ("pact",)
    search_fields = ("pact__slug", "pact__name", "notes")
    autocomplete_fields = ("pact",)
    actions = ("publish_selected",)

    def get_queryset(self, request):
        return ordered(selectors.pact_version_list())

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("pact", "freshness_window", "review_cadence", "notes")
        return (
            "pact",
            "number",
            "state",
            "freshness_window",
            "review_cadence",
            "notes",
            "holders",
            "created_at",
            "published_at",
            "published_by",
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("pact", "number", "state", "holders", "created_at", "published_at", "published_by")

    def has_change_permission(self, request, obj=None):
        if published_and_displayed(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def get_changeform_initial_data(self, request):
        initial = {"freshness_window": timedelta(days=7), "review_cadence": timedelta(days=30)}
        return {**initial, **super().get_changeform_initial_data(request)}

    def get_search_results(self, request, queryset, search_term):
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "autocomplete":
            # Agents hold published versions; obligations are added to drafts.
            target = (request.GET.get("model_name"), request.GET.get("field_name"))
            if target == ("agent", "pact_version"):
                queryset = queryset.filter(state=PactVersionState.PUBLISHED)
            elif target == ("obligation", "pact_version"):
                queryset = queryset.filter(state=PactVersionState.DRAFT)
        return queryset, duplicates

    @admin.display(description="freshness window", ordering="freshness_window")
    def freshness(self, version):
        return short_duration(version.freshness_window)

    @admin.display(description="review cadence", ordering="review_cadence")
    def cadence(self, version):
        return short_duration(version.review_cadence)

    @admin.display(description="obligations", ordering="obligation_count")
    def obligation_count(self, version):
        return version.obligation_count

    @admin.display(description="agents", ordering="agent_count")
    def agent_count(self, version):
        return changelist_link(Agent, version.agent_count, pact_version__id__exact=version.pk)

    @admin.display(description="agents holding it")
    def holders(self, version):
        count = getattr(version, "agent_count", None)
        if count is None:
            count = version.agents.count()
        return changelist_link(Agent, count, pact_version__id__exact=version.pk)

    def save_model(self, request, obj, form, change):
        # Written in save_related, where the obligation rows are at hand: a new
        # version and its obligations are one pact_version_create call.
        pass

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        rows = [
            (formset, row)
            for formset in formsets
            if formset.model is Obligation
            for row in formset.forms
            if row.has_changed()
        ]
        if not change:
            self._create(request, form, rows)
        else:
            self._update(request, form, rows)

    def _create(self, request, form, rows):
        data = form.cleaned_data
        specs = [{k: row.cleaned_data[k] for k in OBLIGATION_FIELDS} for _, row in rows]
        try:
            version = pact_version_create(
                pact=data["pact"],
                freshness_window=data["freshness_window"],
                review_cadence=data["review_cadence"],
                notes=data.get("notes", ""),
                obligations=specs,
                actor=request.user,
            )
        except DomainError as exc:
            where = _OBLIGATION_ERROR_FIELD.match(exc.field or "")
            if where and int(where[1]) < len(rows):
                row = rows[int(where[1])][1]
                raise ServiceRefused(exc, form_prefix=row.prefix, field=where[2]) from exc
            raise ServiceRefused(exc) from exc
        adopt(form.instance, version)
        if rows:
            rows[0][0].new_objects = list(version.obligations.all())

    def _update(self, request, form, rows):
        version = form.instance
        data = form.cleaned_data
        changes = {
            name: data[name]
            for name in ("freshness_window", "review_cadence", "notes")
            if name in form.changed_data
        }
        if changes:
            with refusals_for():
                pact_version_update(pact_version=version, actor=request.user, **changes)
        for formset, row in rows:
            with refusals_for(row.prefix):
                if row.instance.pk is None:
                    spec = {k: row.cleaned_data[k] for k in OBLIGATION_FIELDS}
                    added = obligation_add(pact_version=version, actor=request.user, **spec)
                    formset.new_objects.append(added)
                else:
                    fields = [name for name in row.changed_data if name in OBLIGATION_FIELDS]
                    changed = obligation_update(
                        obligation=row.instance,
                        actor=request.user,
                        **{name: row.cleaned_data[name] for name in fields},
                    )
                    formset.changed_objects.append((changed, fields))

    @admin.action(description="Publish selected draft versions", permissions=["change"])
    def publish_selected(self, request, queryset):
        published = []
        for version in queryset.select_related("pact").order_by("pk"):
            if version.is_published:
                self.message_user(request, f"{version}: already published.", messages.INFO)
                continue
            try:
                pact_version_publish(pact_version=version, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{version}: {exc.message}", messages.ERROR)
            else:
                published.append(str(version))
        if published:
            self.message_user(request, f"Published {', '.join(published)}.", messages.SUCCESS)


@admin.register(Obligation)
class ObligationAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    """Obligations across all pact versions, comparable across the fleet.

    Added to a draft through ``obligation_add`` and changed through
    ``obligation_update``; an obligation of a published version is read-only.
    """

    form = ObligationForm
    list_display = (
        "metric",
        "pact_version",
        "version_state",
        "unit",
        "comparator",
        "threshold",
        "measurement_window",
        "breach_severity",
    )
    list_filter = ("pact_version__state", "breach_severity", "unit", "comparator")
    list_select_related = ("pact_version__pact",)
    search_fields = ("metric", "description", "pact_version__pact__slug")
    autocomplete_fields = ("pact_version",)

    def get_fields(self, request, obj=None):
        return ("pact_version", *OBLIGATION_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("pact_version",)

    def has_change_permission(self, request, obj=None):
        if obj is not None and published_and_displayed(request, obj.pact_version):
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="version state", ordering="pact_version__state")
    def version_state(self, obligation):
        return obligation.pact_version.get_state_display()

    @admin.display(description="window", ordering="window")
    def measurement_window(self, obligation):
        return short_duration(obligation.window)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        with refusals_for():
            if not change:
                spec = {k: data[k] for k in OBLIGATION_FIELDS}
                obligation = obligation_add(
                    pact_version=data["pact_version"], actor=request.user, **spec
                )
                adopt(obj, obligation)
            else:
                fields = [name for name in form.changed_data if name in OBLIGATION_FIELDS]
                obligation_update(
                    obligation=obj, actor=request.user, **{name: data[name] for name in fields}
                )
