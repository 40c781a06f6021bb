"""Feedback: operators (or counterparts, through an operator) rate what the center did."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from atoc.center.choices import FeedbackSubject
from atoc.center.models import Feedback
from atoc.center.services.feedback import feedback_record
from trust.admin.base import ServiceAdminMixin, ServiceModelForm, adopt, refusals_for

SUBJECT_FIELDS = {
    FeedbackSubject.INCIDENT: "incident",
    FeedbackSubject.DECISION: "decision",
    FeedbackSubject.REVIEW: "review",
}


class FeedbackForm(ServiceModelForm):
    """Choose what is rated (an incident, a decision or a review) and say how it was."""

    class Meta:
        model = Feedback
        fields = ("subject", "incident", "decision", "review", "useful", "credible", "comment",
                  "counterpart")  # fmt: skip

    def clean(self):
        cleaned = super().clean()
        subject = cleaned.get("subject")
        if subject in SUBJECT_FIELDS:
            field = SUBJECT_FIELDS[subject]
            if not cleaned.get(field):
                self.add_error(field, f"Choose the {field} you rate.")
            for other in SUBJECT_FIELDS.values():
                if other != field and cleaned.get(other):
                    self.add_error(other, f"You rate a {subject}: leave this empty.")
        return cleaned


@admin.register(Feedback)
class FeedbackAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    """Ratings of incident handling, decisions and reviews (operator confidence)."""

    form = FeedbackForm
    list_display = ("created_at", "subject", "target", "team", "useful", "credible", "author",
                    "counterpart", "comment")  # fmt: skip
    list_filter = ("subject", "useful", "credible", "team")
    list_select_related = ("team", "author", "counterpart", "review")
    raw_id_fields = ("incident", "decision")
    search_fields = ("comment", "author__username")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("subject", "incident", "decision", "review", "author", "team", "created_at",
                "updated_at")  # fmt: skip

    def get_fields(self, request, obj=None):
        fields = ["subject", "incident", "decision", "review", "useful", "credible", "comment",
                  "counterpart"]  # fmt: skip
        return fields if obj is None else [*fields, "author", "team", "created_at", "updated_at"]

    @admin.display(description="rated")
    def target(self, feedback):
        if feedback.subject == FeedbackSubject.INCIDENT:
            return f"incident #{feedback.incident_id}"
        if feedback.subject == FeedbackSubject.DECISION:
            return f"decision #{feedback.decision_id}"
        return str(feedback.review)

    def has_change_permission(self, request, obj=None):
        # A rating is its author's: others read it.
        if obj is not None and obj.author_id != request.user.pk:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            target = obj.incident or obj.decision or obj.review
        else:
            target = data[SUBJECT_FIELDS[data["subject"]]]
        with refusals_for():
            feedback = feedback_record(
                target=target,
                useful=data["useful"],
                credible=data["credible"],
                comment=data.get("comment", ""),
                counterpart=data.get("counterpart"),
                actor=request.user,
            )
        adopt(obj, feedback)
