"""Production settings: secrets required, transport secure, logs as JSON; /healthz."""

import base64
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import OperationalError
from django.test import RequestFactory
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from atoc.center import health
from atoc.center.schedules import CENTER_JOBS
from atoc.core.middleware import DatabaseUnavailableMiddleware
from escalations.schedules import PERIODIC_JOBS
from escalations.services.jobs import job_heartbeat_start

SECRETS = {
    "DJANGO_SECRET_KEY": "x" * 60,
    "DJANGO_ALLOWED_HOSTS": "atoc.example.com",
    "DATABASE_URL": "postgres://atoc:hunter2@db.example.com:5432/atoc",
    "REDIS_URL": "redis://redis.example.com:6379/0",
    "ATOC_TRUST_SIGNING_KEY": base64.urlsafe_b64encode(b"k" * 32).rstrip(b"=").decode(),
}
PROBE = """
import json, logging
import django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "session": s.SESSION_COOKIE_SECURE, "csrf": s.CSRF_COOKIE_SECURE,
    "hsts": s.SECURE_HSTS_SECONDS, "frames": s.X_FRAME_OPTIONS, "debug": s.DEBUG,
    "ssl": s.SECURE_SSL_REDIRECT, "exempt": s.SECURE_REDIRECT_EXEMPT,
}))
logging.getLogger("atoc.probe").warning('a "quoted"\\nmessage')
"""


def run_production(env_overrides: dict, *, drop=()) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update({**SECRETS, **env_overrides, "DJANGO_SETTINGS_MODULE": "config.settings.production"})
    for name in drop:
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_production_refuses_to_start_without_each_secret(missing):
    result = run_production({}, drop=[missing])
    assert result.returncode != 0
    assert missing in result.stderr


@pytest.mark.parametrize("blank", sorted(SECRETS))
def test_production_refuses_to_start_with_a_blank_secret(blank):
    result = run_production({blank: "  "})
    assert result.returncode != 0
    assert blank in result.stderr


def test_production_cookies_hsts_frames_and_json_logs():
    result = run_production({})
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "session": True,
        "csrf": True,
        "hsts": 31536000,
        "frames": "DENY",
        "debug": False,
        "ssl": True,
        "exempt": ["^healthz$"],
    }
    lines = [json.loads(line) for line in result.stderr.strip().splitlines()]
    probe = next(line for line in lines if line["logger"] == "atoc.probe")
    assert probe["level"] == "WARNING"
    assert probe["message"] == 'a "quoted"\nmessage'


@pytest.fixture
def jobs_ran(db):
    for job in (*PERIODIC_JOBS, *CENTER_JOBS):
        job_heartbeat_start(job=job.task)


def test_healthz_answers_200_with_every_check(client, jobs_ran):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "redis": "ok",
        "scheduler": "ok",
    }
    assert body["checks"]["scheduler"]["late_jobs"] == []


def test_healthz_answers_503_when_redis_is_down_without_leaking_where_it_is(
    client, jobs_ran, settings
):
    settings.CELERY_BROKER_URL = "redis://:s3cret@127.0.0.1:1/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == {"status": "fail", "error": "ConnectionError"}
    assert "s3cret" not in response.content.decode()
    assert "127.0.0.1" not in response.content.decode()
    # A load balancer asking about the node alone still sends it traffic.
    assert client.get("/healthz?scope=node").status_code == 200


def test_healthz_answers_503_when_the_scheduler_has_not_run(client, db):
    # Just installed, the scheduler has two intervals to start before it counts as down.
    PeriodicTask.objects.update(start_time=timezone.now())
    assert client.get("/healthz").json()["checks"]["scheduler"]["status"] == "ok"
    PeriodicTask.objects.update(start_time=timezone.now() - timedelta(hours=1))

    body = client.get("/healthz").json()

    assert body["status"] == "fail"
    assert body["checks"]["scheduler"]["status"] == "fail"
    assert "escalations.promote_overdue" in body["checks"]["scheduler"]["late_jobs"]


def test_healthz_answers_503_when_the_database_is_down(client, monkeypatch):
    def broken():
        raise OperationalError("connection to server at db.internal failed: password hunter2")

    monkeypatch.setattr(health.connection, "cursor", broken)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"status": "fail", "error": "OperationalError"}
    assert "hunter2" not in response.content.decode()


def test_healthz_refuses_writes(client, jobs_ran):
    assert client.post("/healthz").status_code == 405


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/api/v1/signals/", "application/json"), ("/admin/", "text/plain; charset=utf-8")],
)
def test_a_lost_database_answers_503_with_retry_after(db, path, content_type):
    request = RequestFactory().post(path)
    middleware = DatabaseUnavailableMiddleware(lambda request: None)

    response = middleware.process_exception(request, OperationalError("server closed"))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == content_type
    if path.startswith("/api/"):
        assert json.loads(response.content)["error"]["code"] == "database_unavailable"
    assert middleware.process_exception(request, ValueError("other")) is None
