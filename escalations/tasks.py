"""Celery tasks of escalations: thin, named, argument-free callers of one service each.

Every task has a fixed name (the scheduler and ``send_task`` use it), takes no
arguments, runs its service between two heartbeats (``services.jobs.job_run``) and
returns the service's JSON report. Each service is safe to run twice and on several
workers at once, which acks_late, retries and overlapping schedules all cause. The
schedules live in django-celery-beat (installed by a data migration, see
``escalations.schedules``).
"""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from atoc.core.services import idempotency_records_purge
from escalations.services.freshness import freshness_check
from escalations.services.jobs import escalations_audit, job_run
from escalations.services.notifications import notifications_deliver
from escalations.services.promotion import incidents_promote_overdue
from escalations.services.risk import risk_acceptances_expire

# Sweeps that may take a while on a large fleet: their work is committed batch by
# batch, so a run cut short by the time limit leaves the rest to the next run.
SWEEP_LIMITS = {"soft_time_limit": 240, "time_limit": 300}
QUICK_LIMITS = {"soft_time_limit": 50, "time_limit": 60}


@shared_task(name="escalations.check_freshness", **SWEEP_LIMITS)
def check_freshness_task() -> dict:
    """Raise ``evaluation_stale`` signals for agents whose evidence went stale."""
    return job_run(job="escalations.check_freshness", run=lambda: {"signals": freshness_check()})


@shared_task(name="escalations.promote_overdue", **SWEEP_LIMITS)
def promote_overdue_incidents_task() -> dict:
    """Promote incidents past their acknowledgement or decision deadline one level."""
    return job_run(
        job="escalations.promote_overdue", run=lambda: {"promoted": incidents_promote_overdue()}
    )


@shared_task(name="escalations.deliver_notifications", **SWEEP_LIMITS)
def deliver_notifications_task() -> dict:
    """Send due outbox rows (also kicked on commit by the services that queue them)."""
    return job_run(job="escalations.deliver_notifications", run=notifications_deliver)


@shared_task(name="escalations.expire_risk_acceptances", **SWEEP_LIMITS)
def expire_risk_acceptances_task() -> dict:
    """Expire risk acceptances past their expiry; their undecided incidents reopen."""
    return job_run(
        job="escalations.expire_risk_acceptances",
        run=lambda: {"expired": risk_acceptances_expire()},
    )


@shared_task(name="escalations.audit", **QUICK_LIMITS)
def audit_task() -> dict:
    """Report overdue promotions and stopped jobs; the report is kept on the heartbeat."""
    return job_run(job="escalations.audit", run=escalations_audit)


@shared_task(name="escalations.purge_idempotency_records", **SWEEP_LIMITS)
def purge_idempotency_records_task() -> dict:
    """Delete stored API idempotency records older than their retention."""

    def purge() -> dict:
        retention = timedelta(hours=settings.ATOC_IDEMPOTENCY_RETENTION_HOURS)
        return {"deleted": idempotency_records_purge(older_than=timezone.now() - retention)}

    return job_run(job="escalations.purge_idempotency_records", run=purge)
