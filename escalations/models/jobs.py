from django.db import models


class JobHeartbeat(models.Model):
    """The last run of one periodic job, written by its Celery task.

    ``job`` is the task's name (``escalations.promote_overdue``). The task records
    ``last_started_at`` as it starts and, when it ends, ``last_finished_at``, one
    more run and ``last_result`` (the service's JSON report; the auditor's report
    for ``escalations.audit``) or ``last_error``. Comparing these times with each
    job's interval tells the center when its scheduler or workers stopped (see
    ``escalations.selectors.heartbeats_status``). Operational data, not evidence:
    rows are overwritten in place.
    """

    job = models.CharField(max_length=200, unique=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_result = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True, help_text="Empty when the last run succeeded.")
    runs = models.PositiveBigIntegerField(default=0, help_text="Runs finished (or failed).")
    failures = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["job"]

    def __str__(self) -> str:
        return self.job
