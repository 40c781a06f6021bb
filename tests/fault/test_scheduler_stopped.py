"""The scheduler stops for several intervals: the center sees it, and nothing climbs twice.

A worker and the scheduler (celery beat, its jobs every second) run on a private
Redis. The test kills the scheduler, lets incidents fall overdue and waits past
several intervals: /healthz answers 503 naming the late jobs (the auditor's own
heartbeat among them) and the fleet picture warns that promotion is not running.
When the scheduler is back, each overdue incident climbs once, not once per
missed interval.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from escalations.models import Escalation, Incident, JobHeartbeat
from tests.factories import UserFactory
from tests.fault.conftest import install_fast_schedules
from tests.fault.support import (
    current_database_url,
    django_env,
    overdue_incidents,
    start_beat,
    start_worker,
    wait_until,
)

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]

PROMOTE, AUDIT = "escalations.promote_overdue", "escalations.audit"
OVERDUE = 6


def runs(job: str) -> int:
    beat = JobHeartbeat.objects.filter(job=job).first()
    return beat.runs if beat else 0


def test_a_stopped_scheduler_shows_and_overdue_incidents_climb_once_when_it_returns(
    private_redis, ladder, no_kicks, client, admin_client
):
    install_fast_schedules({PROMOTE: 1, AUDIT: 1, "escalations.deliver_notifications": 1})
    env = django_env(database_url=current_database_url(), redis_url=private_redis.url)
    workdir = Path(tempfile.mkdtemp(prefix="atoc-fault-"))
    worker = start_worker(env, "steady")
    beat = start_beat(env, workdir)
    try:
        wait_until(
            lambda: (
                runs(AUDIT) >= 1
                and runs(PROMOTE) >= 1
                and client.get("/healthz").status_code == 200
            ),
            what="the scheduler running and /healthz healthy",
            processes=[worker, beat],
        )
        beat.kill()

        actor = UserFactory()
        overdue = overdue_incidents(OVERDUE, actor)

        def blind():
            # Both the sweeper and the auditor late: the scheduler, not one job, is down.
            response = client.get("/healthz")
            late = set(response.json()["checks"]["scheduler"].get("late_jobs", []))
            return response if {PROMOTE, AUDIT} <= late else None

        health = wait_until(blind, what="/healthz to notice the stopped scheduler", timeout=20)
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "fail"
        assert body["checks"]["database"]["status"] == "ok"
        assert body["checks"]["scheduler"]["status"] == "fail"
        page = admin_client.get("/admin/").content.decode()
        assert "The scheduler or the workers are down" in page
        assert not Escalation.objects.filter(incident_id__in=overdue).exists()

        promotions_before = runs(PROMOTE)
        beat = start_beat(env, workdir)
        wait_until(
            lambda: runs(PROMOTE) >= promotions_before + 3,
            what="three promotion runs after the scheduler returned",
            processes=[worker, beat],
        )
        wait_until(
            lambda: client.get("/healthz").status_code == 200,
            what="/healthz healthy again",
            processes=[worker, beat],
        )
    finally:
        worker.stop()
        beat.stop()

    for incident in Incident.objects.filter(pk__in=overdue):
        assert incident.severity.name == "SEV3"
        assert incident.escalations.count() == 1
    assert Escalation.objects.count() == OVERDUE
