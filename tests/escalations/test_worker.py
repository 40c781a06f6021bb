"""A real Celery worker, consuming from Redis, runs the escalation jobs end to end.

The worker is a separate process (``celery -A config worker --pool=solo``) with
the test settings, pointed at this test database and at a queue of its own on the
test Redis; the test sends the tasks by name, as the scheduler does, and waits
(bounded) until their effects are in the database.
"""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from celery import current_app
from django.conf import settings
from django.db import connection
from django.utils import timezone

from escalations.choices import NotificationState, SignalKind
from escalations.models import Incident, JobHeartbeat, Notification, Signal
from escalations.services import outbox
from tests.escalations.support import ingest
from tests.factories import AgentFactory, UserFactory
from trust.models import Agent

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 90


def database_url() -> str:
    """A DATABASE_URL for the database this test runs on (``test_<name>``)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{credentials}@{host}:{port}/{db['NAME']}"


class Worker:
    """A ``celery worker`` subprocess on its own queue, stopped by :meth:`stop`."""

    def __init__(self, queue: str):
        self.queue = queue
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="atoc-worker-", suffix=".log", delete=False
        )
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
        }
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "config", "worker",
                "--pool=solo", "--queues", queue, "--hostname", f"{queue}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel=INFO",
            ],
            cwd=Path(settings.BASE_DIR),
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown: finish the task at hand
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@pytest.fixture
def worker():
    queue = f"atoc-test-{uuid.uuid4().hex[:12]}"
    worker = Worker(queue)
    yield worker
    worker.stop()
    # The queue and the exchange the worker declared, as kombu keeps them in Redis.
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    client.close()


def wait_until(check, *, worker: Worker, what: str):
    """Poll the database until ``check()`` is true (bounded; the worker's log on failure)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        if worker.process.poll() is not None:
            pytest.fail(f"The worker exited while waiting for {what}:\n{worker.output()}")
        time.sleep(0.2)
    pytest.fail(f"No {what} after {WAIT_SECONDS} s. Worker log:\n{worker.output()}")


def test_a_worker_runs_the_freshness_and_promotion_jobs_from_redis(worker, defaults, monkeypatch):
    # The test's own on-commit kicks would go to the shared default queue; only the
    # worker's queue matters here.
    monkeypatch.setattr(outbox, "send_delivery_task", lambda: None)
    actor = UserFactory()
    stale = AgentFactory()
    Agent.objects.filter(pk=stale.pk).update(evaluation_due_at=timezone.now() - timedelta(hours=2))
    five_hours_ago = timezone.now() - timedelta(hours=5)
    overdue = ingest(
        AgentFactory(),
        actor,
        kind=SignalKind.CUSTOM,
        observed_at=five_hours_ago - timedelta(minutes=1),
        now=five_hours_ago,
    ).incident  # SEV4, not acknowledged within its 4 hours
    assert overdue.ack_due_at < timezone.now()

    current_app.send_task("escalations.check_freshness", queue=worker.queue)
    current_app.send_task("escalations.promote_overdue", queue=worker.queue)

    signal = wait_until(
        lambda: Signal.objects.filter(agent=stale, kind=SignalKind.EVALUATION_STALE).first(),
        worker=worker,
        what="evaluation_stale signal",
    )
    assert signal.incident is not None and signal.source == "atoc"
    wait_until(
        lambda: Incident.objects.filter(pk=overdue.pk, severity__name="SEV3").exists(),
        worker=worker,
        what="promotion to SEV3",
    )
    overdue.refresh_from_db()
    assert overdue.escalations.get().reason == "deadline_passed"
    beats = wait_until(
        lambda: (
            {
                beat.job: beat
                for beat in JobHeartbeat.objects.filter(runs__gte=1)
                if beat.job in {"escalations.check_freshness", "escalations.promote_overdue"}
            }
            if JobHeartbeat.objects.filter(runs__gte=1).count() >= 2
            else None
        ),
        worker=worker,
        what="heartbeats of both jobs",
    )
    assert beats["escalations.promote_overdue"].last_result == {"promoted": 1}
    assert beats["escalations.check_freshness"].last_result == {"signals": 1}

    # The promotion queued notifications; its on-commit kick reached the worker
    # through Redis, and the worker delivered them.
    promoted = Notification.objects.filter(incident=overdue, event="promoted")
    assert promoted.exists()
    wait_until(
        lambda: not promoted.exclude(state=NotificationState.SENT).exists(),
        worker=worker,
        what="delivery of the promotion's notifications",
    )
    assert "escalations.deliver_notifications" in worker.output()
