"""Admin for evidence (evaluations and scores): viewed, never changed."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from trust import selectors
from trust.admin.base import EvidenceAdminMixin
from trust.models import Evaluation, EvaluationResult, Score


class EvaluationResultInline(admin.TabularInline):
    """The per-obligation results of an evaluation (evidence, read-only)."""

    model = EvaluationResult
    fields = ("obligation", "value", "label", "explanation", "passed")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("obligation")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Evaluation)
class EvaluationAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    """Evaluations (evidence): submitted through the API and services, viewed here."""

    list_display = (
        "id",
        "agent",
        "pact_version",
        "verdict",
        "results_summary",
        "evaluator",
        "evaluator_kind",
        "independent",
        "completed_at",
        "submitted_by",
    )
    list_display_links = ("id",)
    list_filter = ("verdict", "evaluator_kind", "independent", "completed_at")
    list_select_related = ("agent", "pact_version__pact", "submitted_by")
    search_fields = ("agent__slug", "evaluator", "suite")
    show_full_result_count = False
    inlines = (EvaluationResultInline,)
    fieldsets = [
        (None, {"fields": ("agent", "pact_version", "verdict", "results_summary")}),
        ("Evaluator", {"fields": ("evaluator", "evaluator_kind", "independent", "suite")}),
        ("When", {"fields": ("started_at", "completed_at", "created_at")}),
        ("Evidence", {"fields": ("trace_link", "evidence_uri", "evidence_sha256")}),
        ("Submitted by", {"fields": ("submitted_by",)}),
    ]

    def get_queryset(self, request):
        return selectors.evaluation_list()

    @admin.display(description="passed")
    def results_summary(self, evaluation):
        total = evaluation.passed_count + evaluation.failed_count
        return f"{evaluation.passed_count}/{total} ({evaluation.pass_rate:.0%})"

    @admin.display(description="trace")
    def trace_link(self, evaluation):
        if not evaluation.trace_url:
            return "—"
        return format_html(
            '<a href="{}" rel="noopener noreferrer">{}</a>',
            evaluation.trace_url,
            evaluation.trace_url,
        )


@admin.register(Score)
class ScoreAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    """Trust score history (computed evidence), with what each score was made of."""

    list_display = ("agent", "value", "change_display", "computed_at", "reason")
    list_filter = ("computed_at",)
    list_select_related = ("agent",)
    search_fields = ("agent__slug", "reason")
    show_full_result_count = False
    fields = ("agent", "value", "previous_value", "computed_at", "reason", "components_display")

    @admin.display(description="change")
    def change_display(self, score):
        change = score.change
        if change is None:
            return "—"
        return f"{change:+d}"

    @admin.display(description="components")
    def components_display(self, score):
        rows = format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>", sorted(score.components.items())
        )
        return format_html("<table>{}</table>", rows)
