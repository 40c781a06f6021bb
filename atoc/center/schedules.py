"""The periodic jobs of the center and their default schedules in django-celery-beat.

Installed by a data migration as interval schedules that operators can edit in the
admin; the installer only creates what is missing (by task name). Each job's
heartbeat (``escalations.models.JobHeartbeat``) is read back by the fleet picture.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from escalations.schedules import PeriodicJob

SNAPSHOT_JOB = "center.snapshot_metrics"
PROPOSE_JOB = "center.propose_systemic_issues"
REVIEWS_JOB = "center.schedule_reviews"

CENTER_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        task=SNAPSHOT_JOB,
        name="Snapshot the center's metrics",
        every=1,
        period="days",
        description="Compute the five metrics (fleet, per team, tier and severity) and store "
        "today's snapshot, so the trends have history.",
    ),
    PeriodicJob(
        task=PROPOSE_JOB,
        name="Propose systemic issues",
        every=15,
        period="minutes",
        description="Propose a systemic issue when incidents share a component or a pact "
        "across teams; link new incidents to known issues.",
    ),
    PeriodicJob(
        task=REVIEWS_JOB,
        name="Schedule fleet reviews",
        every=1,
        period="days",
        description="Open the fleet review of each tier whose cadence has come round.",
    ),
)
JOBS_BY_TASK = {job.task: job for job in CENTER_JOBS}


def install_schedules(apps, *, now: datetime | None = None) -> int:
    """Create the center's periodic tasks that are missing; return how many."""
    now = now or timezone.now()
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    tracker_model = apps.get_model("django_celery_beat", "PeriodicTasks")
    created = 0
    for job in CENTER_JOBS:
        if task_model.objects.filter(task=job.task).exists():
            continue
        interval = (
            interval_model.objects.filter(every=job.every, period=job.period).order_by("pk").first()
        ) or interval_model.objects.create(every=job.every, period=job.period)
        task_model.objects.create(
            name=job.name,
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
        tracker_model.objects.update_or_create(ident=1, defaults={"last_update": now})
    return created


def uninstall_schedules(apps) -> None:
    """Remove the center's periodic tasks (the migration's reverse)."""
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        task__in=list(JOBS_BY_TASK)
    ).delete()
