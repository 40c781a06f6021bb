"""PostgreSQL restarts during ingest: clients get a clear 503, and retries store once.

The test runs its own PostgreSQL cluster (initdb into a temporary directory, a free
port) and a production web node (gunicorn, persistent connections with health
checks) on it. Clients post signals continuously; the test restarts PostgreSQL
under them (a fast shutdown, which ends every connection, then a second down).
Every refused request is a 503 in the API's error shape with Retry-After, never
a 500; each client retries the same body (same idempotency key) until it is
stored; afterwards the database holds each signal exactly once.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import psycopg
import pytest

from tests.fault.support import (
    ROOT,
    PrivatePostgres,
    django_env,
    free_port,
    production_env,
    start_gunicorn,
    wait_until,
)

pytestmark = pytest.mark.fault

CLIENTS = 4
PER_CLIENT = 40
SEED = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from atoc.core.services import api_key_create
from tests.factories import AgentFactory
AgentFactory(slug="restart-bot")
print(api_key_create(name="fault-pg", scopes=["read", "signals:write"])[1])
"""


@pytest.fixture
def postgres():
    cluster = PrivatePostgres()
    cluster.start()
    cluster.create_database()
    yield cluster
    cluster.destroy()


def post(port: int, key: str, body: dict) -> tuple[int, dict | None, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            "/api/v1/signals/",
            body=json.dumps(body),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )
        response = connection.getresponse()
        raw = response.read()
        return (
            response.status,
            (json.loads(raw) if raw else None),
            response.getheader("Retry-After"),
        )
    finally:
        connection.close()


def test_a_postgres_restart_answers_503_and_retries_store_each_signal_once(postgres, private_redis):
    seeded = subprocess.run(
        [sys.executable, "-c", SEED],
        cwd=ROOT,
        env=django_env(database_url=postgres.url, redis_url=private_redis.url),
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    key = seeded.stdout.strip().splitlines()[-1]
    port = free_port()
    web = start_gunicorn(
        production_env(database_url=postgres.url, redis_url=private_redis.url), port, workers=2
    )
    statuses: Counter = Counter()
    unavailable: list[tuple[dict | None, str | None]] = []
    stored: dict[str, int] = {}
    lock = threading.Lock()
    progress = Counter()

    def client(index: int) -> None:
        for n in range(PER_CLIENT):
            body = {
                "agent": "restart-bot",
                "kind": "custom",
                "observed_at": datetime.now(UTC).isoformat(),
                "source": "fault-pg",
                "idempotency_key": f"c{index}-{n}",
            }
            while True:
                try:
                    status, answer, retry_after = post(port, key, body)
                except OSError:
                    status, answer, retry_after = -1, None, None
                with lock:
                    statuses[status] += 1
                    if status == 503:
                        unavailable.append((answer, retry_after))
                if status in (200, 201):
                    with lock:
                        stored[body["idempotency_key"]] = answer["id"]
                        progress[index] += 1
                    break
                time.sleep(0.1)
            time.sleep(0.02)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        wait_until(lambda: sum(progress.values()) >= CLIENTS * 5, what="ingest under way")
        postgres.stop(mode="fast")
        time.sleep(1.0)
        postgres.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        web.stop()

    assert not any(thread.is_alive() for thread in threads)
    assert statuses[500] == 0, statuses
    assert statuses[503] > 0, statuses  # the restart was seen by the clients
    assert set(statuses) <= {200, 201, 503}, statuses
    for answer, retry_after in unavailable:
        assert answer["error"]["code"] == "database_unavailable"
        assert answer["error"]["status"] == 503
        assert retry_after == "5"
    with psycopg.connect(postgres.url) as conn:
        rows = conn.execute(
            "SELECT idempotency_key, count(*), min(id) FROM escalations_signal "
            "WHERE source = 'fault-pg' GROUP BY idempotency_key"
        ).fetchall()
    assert len(rows) == CLIENTS * PER_CLIENT
    assert {count for _, count, _ in rows} == {1}
    assert {key: pk for key, _, pk in rows} == stored
