"""A worker killed with SIGKILL in the middle of a promotion batch loses nothing.

The test holds a lock on the escalations table, so the worker's promotion batch
stops half-way: its incidents are claimed and updated in its transaction, its
Escalation rows wait for the lock. Then the whole worker (main process and pool
child) is killed with SIGKILL. Its transaction dies with its connection; the
message, acknowledged only after the task (acks_late), is still the broker's. A
new worker started afterwards receives it again and promotes every overdue
incident exactly once.
"""

from __future__ import annotations

import psycopg
import pytest

from escalations.choices import TimelineKind
from escalations.models import Escalation, Incident, TimelineEntry
from tests.factories import UserFactory
from tests.fault.support import (
    current_database_url,
    django_env,
    overdue_incidents,
    send_task,
    start_worker,
    wait_until,
)

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]

OVERDUE = 30
WAITING_FOR_ESCALATIONS_LOCK = """
    SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
    WHERE c.relname = 'escalations_escalation' AND NOT l.granted
"""


def test_a_worker_killed_mid_batch_leaves_every_incident_promoted_exactly_once(
    private_redis, ladder, no_kicks
):
    actor = UserFactory()
    overdue = overdue_incidents(OVERDUE, actor)
    database_url = current_database_url()
    env = django_env(database_url=database_url, redis_url=private_redis.url)

    blocker = psycopg.connect(database_url)
    blocker.execute("LOCK TABLE escalations_escalation IN EXCLUSIVE MODE")
    first = start_worker(env, "doomed", pool="prefork", concurrency=1)
    second = None
    observer = psycopg.connect(database_url, autocommit=True)
    try:
        send_task(private_redis.url, "escalations.promote_overdue")
        wait_until(
            lambda: observer.execute(WAITING_FOR_ESCALATIONS_LOCK).fetchone()[0] > 0,
            what="the promotion batch blocked half-way",
            processes=[first],
        )
        first.kill()
        blocker.rollback()

        # Nothing of the killed batch was committed.
        assert not Escalation.objects.exists()
        assert set(Incident.objects.values_list("severity__name", flat=True)) == {"SEV4"}

        # A new worker gets the unacknowledged message back and finishes the job.
        second = start_worker(
            {**env, "ATOC_BROKER_VISIBILITY_TIMEOUT": "1"}, "replacement", pool="prefork"
        )
        wait_until(
            lambda: Escalation.objects.count() >= OVERDUE,
            what="promotions by the new worker",
            processes=[second],
        )
        wait_until(
            lambda: (
                "escalations.promote_overdue" in second.output() and "succeeded" in second.output()
            ),
            what="the redelivered task to finish",
            processes=[second],
        )
    finally:
        blocker.close()
        observer.close()
        first.stop()
        if second is not None:
            second.stop()

    for incident in Incident.objects.filter(pk__in=overdue):
        assert incident.severity.name == "SEV3"
        assert incident.escalations.count() == 1
    assert Escalation.objects.count() == OVERDUE
    promoted = TimelineEntry.objects.filter(kind=TimelineKind.PROMOTED)
    assert promoted.count() == OVERDUE
