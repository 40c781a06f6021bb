"""Fixtures of the fault tests: private Redis, the ladder, a webhook receiver, HTTP calls."""

from __future__ import annotations

import http.client
import json
from collections import Counter
from dataclasses import dataclass

import pytest
from django.apps import apps
from django_celery_beat.models import PeriodicTask

from escalations.defaults import install_defaults
from escalations.models import Counterpart
from escalations.schedules import PeriodicJob, install_schedules
from escalations.services import outbox
from tests.escalations.receiver import start_receiver
from tests.fault.support import PrivateRedis


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ladder(db):
    """The default ladder, controls and counterparts (transactional tests flush them)."""
    install_defaults(apps)


@pytest.fixture
def no_kicks(monkeypatch):
    """This process's on-commit delivery kicks would go to the shared broker: drop them.

    Only the private Redis of the test matters; the periodic sweep delivers.
    """
    monkeypatch.setattr(outbox, "send_delivery_task", lambda: None)


@pytest.fixture
def webhooks(ladder):
    """Every counterpart is reached by a signed webhook to a receiver in this process."""
    receiver, server = start_receiver()
    for counterpart in Counterpart.objects.all():
        counterpart.email = ""
        counterpart.webhook_url = receiver.url
        counterpart.save(update_fields=["email", "webhook_url"])
    yield receiver
    server.shutdown()


def deliveries_by_key(receiver) -> Counter:
    """How many times each message (its Idempotency-Key header) reached the receiver."""
    with receiver.lock:
        return Counter(request.headers["Idempotency-Key"] for request in receiver.requests)


def install_fast_schedules(tasks: dict[str, float]) -> None:
    """Run only these tasks, every so many seconds, in django-celery-beat."""
    PeriodicTask.objects.all().delete()
    jobs = [
        PeriodicJob(task=task, name=task, every=int(seconds), period="seconds", description="")
        for task, seconds in tasks.items()
    ]
    install_schedules(apps, jobs=jobs)


@dataclass
class Answer:
    status: int
    body: dict | list | None


def call(port: int, method: str, path: str, *, key: str | None = None, body=None) -> Answer:
    """One HTTP request to the server under test (a new connection each time)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        connection.request(
            method, path, body=json.dumps(body) if body is not None else None, headers=headers
        )
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = {"raw": raw.decode(errors="replace")[:500]}
    return Answer(response.status, parsed)
