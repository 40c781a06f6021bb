"""Celery tasks of the center: thin, named, argument-free callers of one service each.

Each runs its service between two heartbeats (``escalations.services.jobs.job_run``),
so the fleet picture shows when it last ran, and returns the service's JSON report.
The schedules live in django-celery-beat (``atoc.center.schedules``). Every service
is safe to run twice and on several workers at once.
"""

from celery import shared_task

from atoc.center.schedules import PROPOSE_JOB, REVIEWS_JOB, SNAPSHOT_JOB
from atoc.center.services.issues import systemic_issues_propose
from atoc.center.services.metrics import metrics_snapshot_take
from atoc.center.services.reviews import fleet_reviews_schedule
from escalations.services.jobs import job_run

LIMITS = {"soft_time_limit": 240, "time_limit": 300}


@shared_task(name=SNAPSHOT_JOB, **LIMITS)
def snapshot_metrics_task() -> dict:
    """Compute the five metrics for today and store the snapshot."""
    return job_run(job=SNAPSHOT_JOB, run=lambda: {"rows": metrics_snapshot_take()})


@shared_task(name=PROPOSE_JOB, **LIMITS)
def propose_systemic_issues_task() -> dict:
    """Propose systemic issues; link new incidents to known ones."""
    return job_run(job=PROPOSE_JOB, run=lambda: systemic_issues_propose().as_dict())


@shared_task(name=REVIEWS_JOB, **LIMITS)
def schedule_reviews_task() -> dict:
    """Open the fleet reviews whose tier cadence came round."""
    return job_run(job=REVIEWS_JOB, run=lambda: {"opened": fleet_reviews_schedule()})
