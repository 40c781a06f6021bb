"""The periodic jobs of escalations and their default schedules.

Plain data plus one installer that works on any app registry, like ``defaults.py``.
A data migration installs the schedules into django-celery-beat as interval
schedules, where operators can edit them in the admin; the installer only creates
what is missing (looked up by task name), so it never overwrites an edited
schedule. The center reads the schedules back to know how often each job should
run (``escalations.selectors.heartbeats_status``); the intervals here are the
fallback when a job has no interval schedule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

# IntervalSchedule periods (django_celery_beat.models.PERIOD_CHOICES) in seconds.
PERIOD_SECONDS = {
    "days": 86400,
    "hours": 3600,
    "minutes": 60,
    "seconds": 1,
    "microseconds": 1e-6,
}


@dataclass(frozen=True)
class PeriodicJob:
    """One job run by the scheduler: its task name, default interval and description."""

    task: str
    name: str
    every: int
    period: str
    description: str

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.every * PERIOD_SECONDS[self.period])


PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        task="escalations.check_freshness",
        name="Check evaluation freshness",
        every=5,
        period="minutes",
        description="Signal agents whose newest evaluation is older than their pact allows.",
    ),
    PeriodicJob(
        task="escalations.promote_overdue",
        name="Promote overdue incidents",
        every=1,
        period="minutes",
        description="Climb the ladder for incidents past their acknowledgement or decision "
        "deadline.",
    ),
    PeriodicJob(
        task="escalations.deliver_notifications",
        name="Deliver notifications",
        every=1,
        period="minutes",
        description="Send due outbox rows (email, signed webhooks), with retries. Also "
        "kicked after every transaction that queues a notification.",
    ),
    PeriodicJob(
        task="escalations.expire_risk_acceptances",
        name="Expire risk acceptances",
        every=5,
        period="minutes",
        description="Close risk acceptances past their expiry; reopen their incidents.",
    ),
    PeriodicJob(
        task="escalations.audit",
        name="Audit the scheduler and the ladder",
        every=1,
        period="minutes",
        description="Report incidents whose promotion is overdue and jobs that stopped running.",
    ),
    PeriodicJob(
        task="escalations.purge_idempotency_records",
        name="Purge old idempotency records",
        every=1,
        period="days",
        description="Delete stored API idempotency records past their retention.",
    ),
)

JOBS_BY_TASK = {job.task: job for job in PERIODIC_JOBS}
PROMOTION_JOB = "escalations.promote_overdue"
AUDIT_JOB = "escalations.audit"


def install_schedules(
    apps, *, now: datetime | None = None, jobs: Iterable[PeriodicJob] = PERIODIC_JOBS
) -> int:
    """Create the periodic tasks that are missing (by task name); return how many.

    Each runs first as soon as the scheduler starts (``start_time``) and then on its
    interval; a message that waited longer than one interval in the queue expires
    (the next run does the same work), so a backlog does not pile up while the
    workers are down. ``jobs`` lets another app install its own jobs the same way.
    """
    now = now or timezone.now()
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    tracker_model = apps.get_model("django_celery_beat", "PeriodicTasks")
    created = 0
    for job in jobs:
        if task_model.objects.filter(task=job.task).exists():
            continue
        interval = (
            interval_model.objects.filter(every=job.every, period=job.period).order_by("pk").first()
        ) or interval_model.objects.create(every=job.every, period=job.period)
        name = job.name
        if task_model.objects.filter(name=name).exists():
            name = f"{job.name} ({job.task})"
        task_model.objects.create(
            name=name,
            task=job.task,
            interval=interval,
            args="[]",
            kwargs="{}",
            start_time=now,
            expire_seconds=max(int(job.interval.total_seconds()), 60),
            description=job.description,
            enabled=True,
        )
        created += 1
    if created:
        # What PeriodicTask.save() does outside migrations: a running scheduler
        # notices the change and reloads its schedule.
        tracker_model.objects.update_or_create(ident=1, defaults={"last_update": now})
    return created


def uninstall_schedules(apps) -> None:
    """Remove the periodic tasks of these jobs (the migration's reverse)."""
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    task_model.objects.filter(task__in=list(JOBS_BY_TASK)).delete()
