"""The periodic jobs' own bookkeeping: heartbeats, and the auditor that reads them.

Every periodic task runs its service through :func:`job_run`, which records a
heartbeat (:class:`~escalations.models.JobHeartbeat`) when the job starts and when
it ends. :func:`escalations_audit` is the auditor job: it reports incidents whose
promotion is overdue by more than two promotion intervals (the sweeper is not
running) and jobs that stopped running; its task stores the report as its
heartbeat's ``last_result``, where the center reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db.models import F
from django.utils import timezone

from escalations.models import JobHeartbeat
from escalations.schedules import PROMOTION_JOB
from escalations.selectors import heartbeats_status, incidents_promotion_late_since

logger = logging.getLogger(__name__)

LATE_AFTER_INTERVALS = 2
REPORTED_INCIDENTS = 20


def job_heartbeat_start(*, job: str, now: datetime | None = None) -> None:
    """Record that ``job`` started (one upsert: safe when two workers start it at once)."""
    JobHeartbeat.objects.bulk_create(
        [JobHeartbeat(job=job, last_started_at=now or timezone.now())],
        update_conflicts=True,
        unique_fields=["job"],
        update_fields=["last_started_at"],
    )


def job_heartbeat_finish(
    *, job: str, result: dict | None = None, error: str = "", now: datetime | None = None
) -> None:
    """Record that ``job`` ended, with its JSON result or the error that stopped it."""
    JobHeartbeat.objects.filter(job=job).update(
        last_finished_at=now or timezone.now(),
        last_result=result if result is not None else {},
        last_error=error[:2000],
        runs=F("runs") + 1,
        failures=F("failures") + (1 if error else 0),
    )


def job_run(*, job: str, run: Callable[[], dict]) -> dict:
    """Run one periodic job between two heartbeats; return (and record) its JSON result.

    An exception (a soft time limit too) is recorded on the heartbeat and raised
    again, so Celery sees the failure.
    """
    job_heartbeat_start(job=job)
    try:
        result = run()
    except Exception as exc:
        job_heartbeat_finish(job=job, error=f"{type(exc).__name__}: {exc}")
        raise
    job_heartbeat_finish(job=job, result=result)
    return result


def escalations_audit(*, now: datetime | None = None) -> dict:
    """Report what the center cannot see by itself: a stopped sweeper, stopped jobs.

    Incidents whose acknowledgement or decision deadline passed more than two
    promotion intervals ago mean the promotion job is not running (the scheduler or
    the workers are down); so do jobs whose last start is older than two of their
    intervals. Returns a JSON report (``healthy`` is False when either list is not
    empty) and logs a warning when something is late.
    """
    now = now or timezone.now()
    jobs = heartbeats_status(now=now)
    promotion = next(status for status in jobs if status.job == PROMOTION_JOB)
    grace = promotion.interval * LATE_AFTER_INTERVALS
    late_incidents = incidents_promotion_late_since(now=now, grace=grace)
    count = late_incidents.count()
    sample = list(late_incidents[:REPORTED_INCIDENTS])
    late_jobs = [status.job for status in jobs if status.late]
    report = {
        "at": now.isoformat(),
        "healthy": not count and not late_jobs,
        "promotion_grace_seconds": grace.total_seconds(),
        "overdue_incidents": count,
        "overdue_incident_ids": [pk for pk, _ in sample],
        "oldest_overdue_due_at": sample[0][1].isoformat() if sample else None,
        "late_jobs": late_jobs,
        "jobs": [status.as_dict() for status in jobs],
    }
    if not report["healthy"]:
        logger.warning(
            "Escalations audit: %d incident(s) overdue for promotion by more than %s; "
            "late jobs: %s",
            count,
            grace,
            ", ".join(late_jobs) or "none",
        )
    return report
