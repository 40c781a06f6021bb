"""Admin for the periodic jobs' heartbeats: is the scheduler running, and the workers?"""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html

from escalations.admin.base import OVERDUE_COLOUR, ReadOnlyAdminMixin
from escalations.models import JobHeartbeat
from escalations.selectors import heartbeats_status
from trust.admin.base import short_duration


@admin.register(JobHeartbeat)
class JobHeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Each periodic job's last run against its schedule; late jobs stand out.

    Written by the tasks themselves; the schedules are edited under "Periodic tasks".
    """

    list_display = (
        "job",
        "status",
        "last_started_at",
        "last_finished_at",
        "runs",
        "failures",
        "last_error",
    )
    fields = (
        "job",
        "status",
        "last_started_at",
        "last_finished_at",
        "runs",
        "failures",
        "last_error",
        "result",
    )
    readonly_fields = fields

    def changelist_view(self, request, extra_context=None):
        # One read of the schedules for the whole page.
        request._job_statuses = {s.job: s for s in heartbeats_status(now=timezone.now())}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        request._job_statuses = {s.job: s for s in heartbeats_status(now=timezone.now())}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_queryset(self, request):
        self._request = request
        return super().get_queryset(request)

    @admin.display(description="status")
    def status(self, beat):
        statuses = getattr(getattr(self, "_request", None), "_job_statuses", {})
        status = statuses.get(beat.job)
        if status is None:
            return "not a scheduled job"
        if not status.scheduled:
            return "not scheduled (disabled)"
        if status.late:
            since = beat.last_started_at
            return format_html(
                '<strong style="color:{}">late: not run for {} (every {})</strong>',
                OVERDUE_COLOUR,
                short_duration(timezone.now() - since) if since else "ever",
                short_duration(status.interval),
            )
        if beat.last_error:
            return format_html('<strong style="color:{}">last run failed</strong>', OVERDUE_COLOUR)
        return f"ok (every {short_duration(status.interval)})"

    @admin.display(description="last result")
    def result(self, beat):
        return format_html("<pre>{}</pre>", json.dumps(beat.last_result, indent=2))
