"""Every periodic task delivered twice, to two workers at once, does its work once.

acks_late, a retried publish and overlapping schedules all deliver a task twice.
The test sends every scheduled task of escalations and the center twice to two
real workers sharing one queue, over work that touches every kind of row: overdue
incidents climbing to SEV1 (whose automatic consequence restricts the agent), an
acknowledged incident past its decision deadline, agents whose evidence went
stale, and notifications to deliver. Afterwards each incident climbed once, each
consequence was applied once, each stale agent has one signal, each message
reached its receiver once, and no decision was invented.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from atoc.center.schedules import CENTER_JOBS
from escalations.choices import SignalKind, TimelineKind
from escalations.models import (
    Decision,
    Escalation,
    Incident,
    JobHeartbeat,
    Notification,
    Signal,
    TimelineEntry,
)
from escalations.schedules import PERIODIC_JOBS
from escalations.services.incidents import incident_acknowledge
from tests.escalations.support import ingest
from tests.factories import AgentFactory, UserFactory
from tests.fault.conftest import deliveries_by_key
from tests.fault.support import (
    current_database_url,
    django_env,
    send_task,
    start_worker,
    wait_until,
)
from trust.models import Agent

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]

TASKS = [job.task for job in (*PERIODIC_JOBS, *CENTER_JOBS)]


def test_every_task_delivered_twice_writes_everything_once(
    private_redis, webhooks, no_kicks, monkeypatch
):
    actor = UserFactory()
    hours_ago = timezone.now() - timedelta(hours=1)
    climbing = [
        ingest(
            AgentFactory(), actor, kind=SignalKind.CUSTOM, severity="SEV2",
            observed_at=hours_ago, now=hours_ago,
        ).incident
        for _ in range(4)
    ]  # fmt: skip
    acknowledged = ingest(AgentFactory(), actor, kind=SignalKind.CUSTOM).incident
    incident_acknowledge(incident=acknowledged, actor=actor)
    Incident.objects.filter(pk=acknowledged.pk).update(decision_due_at=hours_ago)
    stale = [AgentFactory() for _ in range(3)]
    Agent.objects.filter(pk__in=[a.pk for a in stale]).update(
        evaluation_due_at=timezone.now() - timedelta(hours=2)
    )
    decisions_before = Decision.objects.count()
    env = django_env(database_url=current_database_url(), redis_url=private_redis.url)
    workers = [start_worker(env, f"twin-{n}") for n in (1, 2)]
    try:
        for task in TASKS:
            send_task(private_redis.url, task, times=2)
        wait_until(
            lambda: JobHeartbeat.objects.filter(job__in=TASKS, runs__gte=2).count() == len(TASKS),
            what="every task run twice",
            processes=workers,
        )
        # The promotions' notifications went out through the sweep (sent twice too).
        send_task(private_redis.url, "escalations.deliver_notifications", times=2)
        wait_until(
            lambda: not Notification.objects.exclude(state="sent").exists(),
            what="every notification delivered",
            processes=workers,
        )
    finally:
        for worker in workers:
            worker.stop()

    for incident in climbing:
        incident.refresh_from_db()
        assert incident.severity.name == "SEV1"
        assert incident.escalations.count() == 1
        applied = incident.timeline.filter(kind=TimelineKind.CONSEQUENCE_APPLIED)
        assert applied.count() == 1
        assert incident.agent.history.filter(status="restricted").count() == 1
    assert Escalation.objects.filter(incident=acknowledged, reason="decision_overdue").count() == 1
    for agent in stale:
        assert Signal.objects.filter(agent=agent, kind=SignalKind.EVALUATION_STALE).count() == 1
    assert Incident.objects.filter(kind=SignalKind.EVALUATION_STALE).count() == len(stale)
    assert Decision.objects.count() == decisions_before
    promoted = TimelineEntry.objects.filter(kind=TimelineKind.PROMOTED)
    assert promoted.count() == len(climbing) + 1
    delivered = deliveries_by_key(webhooks)
    assert delivered and set(delivered.values()) == {1}
    assert len(delivered) == Notification.objects.count()
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}
