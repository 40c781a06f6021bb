"""``GET /healthz``: is this node able to do its work? For load balancers and monitoring.

Unauthenticated, cheap (three small queries and one Redis ``PING``) and JSON. Each
check answers ``ok`` or ``fail`` with a short, secret-free reason (an exception's
class name, never its message, which may hold a host or a user name):

- ``database``: ``SELECT 1`` on the default database;
- ``redis``: ``PING`` on the broker (and cache) Redis, with a one-second timeout;
- ``scheduler``: no periodic job is late (its last start is older than two of its
  intervals), read from the jobs' heartbeats, with the auditor's last report.

``200`` when every check passes, ``503`` otherwise. ``?scope=node`` checks only the
database: a load balancer that should keep a node serving writes through a Redis
or scheduler outage (signals are stored in the database either way, and the sweeps
catch up) uses that form.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from atoc.center.schedules import CENTER_JOBS
from escalations.schedules import AUDIT_JOB, PERIODIC_JOBS
from escalations.selectors import audit_report_latest, heartbeats_status

REDIS_TIMEOUT_SECONDS = 1.0


def _failure(exc: Exception) -> dict:
    return {"status": "fail", "error": type(exc).__name__}


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "not healthy", whatever its kind
        return _failure(exc)
    return {"status": "ok"}


def _redis_url() -> str:
    broker = settings.CELERY_BROKER_URL or ""
    if broker.startswith(("redis://", "rediss://")):
        return broker
    return settings.REDIS_URL


def check_redis() -> dict:
    url = _redis_url()
    if not url:
        return {"status": "ok", "detail": "not configured (embedded broker)"}
    import redis

    try:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return _failure(exc)
    return {"status": "ok"}


def check_scheduler() -> dict:
    now = timezone.now()
    try:
        statuses = heartbeats_status(now=now, jobs=(*PERIODIC_JOBS, *CENTER_JOBS))
        report = audit_report_latest() or {}
    except Exception as exc:
        return _failure(exc)
    audit = next(status for status in statuses if status.job == AUDIT_JOB)
    late = sorted(status.job for status in statuses if status.late)
    return {
        "status": "fail" if late else "ok",
        "late_jobs": late,
        "audit_last_started_at": (
            audit.last_started_at.isoformat() if audit.last_started_at else None
        ),
        "overdue_incidents": report.get("overdue_incidents", 0),
    }


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The health of this node as JSON: 200 when every check passes, else 503."""
    checks = {"database": check_database()}
    if request.GET.get("scope") != "node":
        checks["redis"] = check_redis()
        if checks["database"]["status"] == "ok":
            checks["scheduler"] = check_scheduler()
        else:
            checks["scheduler"] = {"status": "fail", "error": "database unavailable"}
    healthy = all(check["status"] == "ok" for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "fail", "checks": checks},
        status=200 if healthy else 503,
    )
