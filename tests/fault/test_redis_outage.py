"""Redis stops while signals are posted: nothing is lost, nothing is doubled.

A production web node (gunicorn), a Celery worker and the scheduler run on a
private Redis and the test database. The test kills Redis, posts signals (some of
them twice) and leaves incidents overdue, then brings Redis back: the database
held everything meanwhile, and the periodic sweeps deliver the pending
notifications and promote the overdue incidents once.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from atoc.core.services import api_key_create
from escalations.choices import NotificationState, SignalKind
from escalations.models import Escalation, Incident, JobHeartbeat, Notification, Signal
from tests.escalations.support import ingest
from tests.factories import AgentFactory, UserFactory
from tests.fault.conftest import call, deliveries_by_key, install_fast_schedules
from tests.fault.support import (
    current_database_url,
    django_env,
    free_port,
    production_env,
    start_beat,
    start_gunicorn,
    start_worker,
    wait_until,
)

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]

SIGNALS = 24
REPLAYED = 6
OVERDUE = 5


def signal_body(slug: str, key: str) -> dict:
    return {
        "agent": slug,
        "kind": SignalKind.CUSTOM,
        "observed_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
        "value": 1.0,
        "source": "fault-test",
        "idempotency_key": key,
        "payload": {"during": "redis outage"},
    }


def test_signals_posted_while_redis_is_down_are_stored_and_acted_on_once(
    private_redis, webhooks, no_kicks
):
    _, raw_key = api_key_create(name="fault-redis", scopes=["read", "signals:write"])
    agents = [AgentFactory() for _ in range(SIGNALS)]
    install_fast_schedules(
        {
            "escalations.promote_overdue": 1,
            "escalations.deliver_notifications": 1,
            "escalations.audit": 1,
        }
    )
    database_url = current_database_url()
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="atoc-fault-"))
    web = start_gunicorn(
        production_env(database_url=database_url, redis_url=private_redis.url), port
    )
    env = django_env(database_url=database_url, redis_url=private_redis.url)
    worker = start_worker(env, "fault-redis-worker")
    beat = start_beat(env, workdir)
    processes = [web, worker, beat]
    try:
        wait_until(
            lambda: JobHeartbeat.objects.filter(job="escalations.audit", runs__gte=1).exists(),
            what="a first scheduled run",
            processes=processes,
        )

        private_redis.stop()

        # While Redis is down: the API stores every signal (a replay answers 200)...
        bodies = [signal_body(agent.slug, f"k{i}") for i, agent in enumerate(agents)]
        answers = [call(port, "POST", "/api/v1/signals/", key=raw_key, body=b) for b in bodies]
        replays = [
            call(port, "POST", "/api/v1/signals/", key=raw_key, body=b) for b in bodies[:REPLAYED]
        ]
        assert [a.status for a in answers] == [201] * SIGNALS, answers
        assert [a.status for a in replays] == [200] * REPLAYED, replays
        assert [a.body for a in replays] == [a.body for a in answers[:REPLAYED]]
        # ...and incidents fall overdue (opened five hours ago at SEV4, 4 h to acknowledge).
        actor = UserFactory()
        five_hours_ago = timezone.now() - timedelta(hours=5)
        overdue = [
            ingest(
                AgentFactory(),
                actor,
                kind=SignalKind.CUSTOM,
                observed_at=five_hours_ago,
                now=five_hours_ago,
            ).incident.pk
            for _ in range(OVERDUE)
        ]
        assert Signal.objects.filter(source="fault-test").count() == SIGNALS
        pending = Notification.objects.filter(state=NotificationState.PENDING)
        assert pending.exists()
        assert not Escalation.objects.exists()

        private_redis.start()

        # The sweeps catch up: every overdue incident climbs, every message goes out.
        wait_until(
            lambda: (
                Escalation.objects.filter(incident_id__in=overdue).count() >= OVERDUE
                and not Notification.objects.exclude(state=NotificationState.SENT).exists()
            ),
            what="promotions and deliveries after Redis came back",
            processes=processes,
        )
    finally:
        for process in processes:
            process.stop()

    assert Signal.objects.filter(source="fault-test").count() == SIGNALS
    keys = list(
        Signal.objects.filter(source="fault-test").values_list("idempotency_key", flat=True)
    )
    assert sorted(keys) == sorted(f"k{i}" for i in range(SIGNALS))
    for incident in Incident.objects.filter(pk__in=overdue):
        assert incident.severity.name == "SEV3"
        assert list(incident.escalations.values_list("reason", flat=True)) == ["deadline_passed"]
    notifications = Notification.objects.all()
    assert notifications.count() >= SIGNALS + OVERDUE
    assert set(notifications.values_list("attempts", flat=True)) == {1}
    delivered = deliveries_by_key(webhooks)
    assert set(delivered.values()) == {1}
    assert len(delivered) == notifications.count()
