"""Load test: the whole center under sustained ingest, and a check that nothing was lost.

``uv run python -m bench.load_test`` (re)creates its own database (``BENCH_DATABASE_URL``,
default ``atoc_bench_load``), then runs the production shape on this machine:
gunicorn (production settings), two Celery workers and one scheduler on PostgreSQL
and Redis (``REDIS_URL``, default db 5, whose default queue it empties first), with promotion,
delivery and the audit every two seconds. For ``--seconds`` (60), ``--clients``
(32) concurrent clients post single signals over keep-alive connections; about
``--duplicates`` (10 %) of the requests resend an earlier signal unchanged (same
idempotency key and body, which must answer 200 and store nothing). Before the
run, ``--overdue`` (200) incidents are opened with acknowledgement deadlines spread
over the run, so the promotion sweep has work all along.

Afterwards it reports requests/s, p50/p95/p99 latency, answers by status, and
checks the database: stored signals = unique signals sent (lost, doubled), and
each incident whose deadline passed climbed exactly once. The figures are printed
and written to ``bench/results/load-<time>.json``; the exit status is 1 when a
target is missed (any 5xx, anything lost or doubled, a promotion missed or doubled).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from bench.api_bench import Client, _free_port, _percentile, _server_env, _tail, _wait_ready
from bench.common import ROOT, progress

RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/atoc_bench_load"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"
QUEUE = "celery"  # the default queue, on the load test's own Redis database
AGENTS = 320
SOURCE = "load-test"
FAST_JOBS = {
    "escalations.promote_overdue": 2,
    "escalations.deliver_notifications": 2,
    "escalations.audit": 2,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duplicates", type=float, default=0.10, help="share of resends")
    parser.add_argument("--overdue", type=int, default=200, help="incidents falling due")
    parser.add_argument("--web-workers", type=int, default=None, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process")
    args = parser.parse_args()
    web_workers = args.web_workers or 2 * (os.cpu_count() or 1)

    os.environ.setdefault("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    print("Load test", flush=True)
    print("[1/5] a fresh database, agents, an API key, incidents falling due", flush=True)
    _fresh_database(os.environ["BENCH_DATABASE_URL"])
    from bench.common import setup

    setup()
    slugs, raw_key = _seed()
    start_at = datetime.now(UTC) + timedelta(seconds=20)
    _open_overdue(args.overdue, first_due=start_at, spread=args.seconds - 5)

    env = {
        **_server_env(),
        "CELERY_BROKER_URL": os.environ["REDIS_URL"],
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "WARNING",
    }
    _purge_queue(os.environ["REDIS_URL"])
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="atoc-load-")
    print(
        f"[2/5] gunicorn ({web_workers} x {args.threads} threads), 2 workers, beat",
        flush=True,
    )
    processes = _start_all(env, port, web_workers, args.threads, workdir)
    try:
        _wait_ready(port, processes["web"][0], processes["web"][1])
        wait = (start_at - datetime.now(UTC)).total_seconds()
        if wait > 0:
            time.sleep(wait)
        print(f"[3/5] {args.clients} clients for {args.seconds:.0f} s", flush=True)
        load = _run_load(port, raw_key, slugs, args)
        print("[4/5] letting the sweeps finish", flush=True)
        _settle(args.overdue)
    finally:
        logs = {name: log.name for name, (_, log) in processes.items()}
        for process, _ in processes.values():
            _stop(process)
    print("[5/5] checking the database", flush=True)
    results = {**load, **_check(load["unique_keys"])}
    results["targets"] = {
        "no_5xx": sum(v for k, v in results["statuses"].items() if k.startswith("5")) == 0
        and results["transport_errors"] == 0,
        "none_lost": results["lost"] == 0,
        "none_doubled": results["doubled"] == 0,
        "promotions_exactly_once": results["promotions"]["not_exactly_once"] == 0,
    }
    results["machine"] = {
        "cpus": os.cpu_count(),
        "gunicorn": f"{web_workers} workers (gthread) x {args.threads} threads",
        "celery": "2 workers (prefork, concurrency 1) + 1 beat",
    }
    _report(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"load-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"results written to {path.relative_to(ROOT)}")
    if not all(results["targets"].values()):
        for name, log in logs.items():
            print(f"--- {name} log (tail)\n{_tail(log)}")
        sys.exit(1)


# --- set-up -----------------------------------------------------------------------------


def _fresh_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _seed() -> tuple[list[str], str]:
    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    from atoc.core.services import api_key_create
    from escalations.schedules import PeriodicJob, install_schedules
    from tests.factories import AgentFactory, PactVersionFactory, TeamFactory

    teams = [TeamFactory() for _ in range(8)]
    version = PactVersionFactory()
    agents = [
        AgentFactory(slug=f"load-{n}", team=teams[n % len(teams)], pact_version=version)
        for n in range(AGENTS)
    ]
    PeriodicTask.objects.all().delete()
    install_schedules(
        apps,
        jobs=[
            PeriodicJob(task=task, name=task, every=every, period="seconds", description="")
            for task, every in FAST_JOBS.items()
        ],
    )
    _, raw = api_key_create(name="load-test", scopes=["read", "signals:write"])
    progress(f"{len(agents)} agents, schedules every 2 s, an API key")
    return [agent.slug for agent in agents], raw


def _open_overdue(count: int, *, first_due: datetime, spread: float) -> None:
    """Open ``count`` incidents whose acknowledgement deadlines fall during the run."""
    from escalations.models import Incident
    from escalations.services.signals import signal_ingest
    from tests.factories import AgentFactory, UserFactory

    actor = UserFactory(username="load-operator")
    ids = []
    for n in range(count):
        outcome = signal_ingest(
            agent=AgentFactory(slug=f"due-{n}"),
            kind="custom",
            observed_at=datetime.now(UTC) - timedelta(minutes=1),
            source="load-setup",
            idempotency_key=f"due-{n}",
            actor=actor,
        )
        ids.append(outcome.incident.pk)
    step = spread / max(count, 1)
    for n, pk in enumerate(ids):
        # Set-up only: move each deadline into the run (no history needed here).
        Incident.objects.filter(pk=pk).update(ack_due_at=first_due + timedelta(seconds=n * step))
    progress(f"{count} incidents falling due over {spread:.0f} s of the run")


def _purge_queue(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete(QUEUE, f"_kombu.binding.{QUEUE}")
    client.close()


def _start_all(env: dict, port: int, web_workers: int, threads: int, workdir: str) -> dict:
    def spawn(name: str, command: list[str]):
        log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the run
            prefix=f"load-{name}-", suffix=".log", delete=False
        )
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        return process, log

    celery = [sys.executable, "-m", "celery", "-A", "config"]
    return {
        "web": spawn(
            "web",
            [
                sys.executable, "-m", "gunicorn", "config.wsgi:application",
                "--config", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
                "--workers", str(web_workers), "--worker-class", "gthread",
                "--threads", str(threads), "--access-logfile", "/dev/null",
            ],
        ),
        "worker-1": spawn(
            "worker-1",
            [*celery, "worker", "--concurrency=1", "--hostname=load-1@%h",
             "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
        ),
        "worker-2": spawn(
            "worker-2",
            [*celery, "worker", "--concurrency=1", "--hostname=load-2@%h",
             "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
        ),
        "beat": spawn(
            "beat",
            [*celery, "beat", "--loglevel=WARNING", "--max-interval", "1",
             "--pidfile", os.path.join(workdir, "beat.pid")],
        ),
    }  # fmt: skip


def _stop(process) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the load ---------------------------------------------------------------------------


def _run_load(port: int, raw_key: str, slugs: list[str], args) -> dict:
    latencies: list[float] = []
    statuses: Counter = Counter()
    transport_errors = [0]
    unique_keys: set[str] = set()
    replays = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds
    per_client = max(1, len(slugs) // args.clients)

    def run(index: int) -> None:
        rng = random.Random(index)
        agents = slugs[index * per_client : (index + 1) * per_client] or slugs
        sent: list[bytes] = []
        mine: list[float] = []
        codes: Counter = Counter()
        keys: set[str] = set()
        errors = resent = 0
        client = Client(port, raw_key)
        n = 0
        while time.monotonic() < deadline:
            if sent and rng.random() < args.duplicates:
                body = rng.choice(sent)
                resent += 1
            else:
                key = f"c{index}-{n}-{secrets.token_hex(3)}"
                n += 1
                body = json.dumps(
                    {
                        "agent": rng.choice(agents),
                        "kind": rng.choice(["custom", "pact_breach", "incident_flag"]),
                        "observed_at": datetime.now(UTC).isoformat(),
                        "value": round(rng.random(), 3),
                        "source": SOURCE,
                        "idempotency_key": key,
                        "payload": {"client": index},
                    }
                ).encode()
                sent.append(body)
                keys.add(key)
            try:
                status, _, elapsed = client.request("POST", "/api/v1/signals/", body)
            except OSError:
                errors += 1
                client.close()
                client = Client(port, raw_key)
                continue
            mine.append(elapsed)
            codes[status] += 1
        client.close()
        with lock:
            latencies.extend(mine)
            statuses.update(codes)
            unique_keys.update(keys)
            transport_errors[0] += errors
            replays[0] += resent

    threads = [threading.Thread(target=run, args=(i,)) for i in range(args.clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return {
        "seconds": round(wall, 1),
        "clients": args.clients,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(_percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(_percentile(latencies, 95) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "transport_errors": transport_errors[0],
        "resent_duplicates": replays[0],
        "unique_keys": sorted(unique_keys),
    }


def _settle(overdue: int, timeout: float = 60) -> None:
    """Wait until every deadline that passed was swept and the outbox is empty."""
    from django.db import close_old_connections
    from django.utils import timezone

    from escalations.models import Incident, Notification

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        close_old_connections()
        due = Incident.objects.filter(state="open", ack_due_at__lte=timezone.now()).exists()
        pending = Notification.objects.filter(state="pending").exists()
        if not due and not pending:
            break
        time.sleep(1)
    # A few more sweeps over the same rows: nothing may climb again.
    time.sleep(5)


# --- the checks -------------------------------------------------------------------------


def _check(unique_keys: list[str]) -> dict:
    from django.db import close_old_connections
    from django.db.models import Count

    from escalations.models import Escalation, Incident, Notification, Signal

    close_old_connections()
    stored = Counter(
        dict(
            Signal.objects.filter(source=SOURCE)
            .values_list("idempotency_key")
            .annotate(n=Count("id"))
            .values_list("idempotency_key", "n")
        )
    )
    sent = set(unique_keys)
    climbs = Counter(
        dict(
            Escalation.objects.filter(incident__signals__source="load-setup")
            .values_list("incident_id")
            .annotate(n=Count("id", distinct=True))
            .values_list("incident_id", "n")
        )
    )
    setup_incidents = list(
        Incident.objects.filter(signals__source="load-setup").values_list("pk", flat=True)
    )
    return {
        "unique_keys": len(sent),
        "stored_signals": sum(stored.values()),
        "lost": len(sent - set(stored)),
        "doubled": sum(1 for n in stored.values() if n > 1),
        "unexpected": len(set(stored) - sent),
        "incidents": Incident.objects.count(),
        "notifications": {
            state: Notification.objects.filter(state=state).count()
            for state in ("pending", "sent", "failed")
        },
        "promotions": {
            "incidents_falling_due": len(setup_incidents),
            "climbed_once": sum(1 for pk in setup_incidents if climbs.get(pk) == 1),
            "not_exactly_once": sum(1 for pk in setup_incidents if climbs.get(pk) != 1),
            "escalations": Escalation.objects.count(),
        },
    }


def _report(results: dict) -> None:
    promotions = results["promotions"]
    print()
    print(f"  requests           {results['requests']} in {results['seconds']} s")
    print(f"  requests/s         {results['requests_per_s']}")
    print(
        f"  latency ms         p50 {results['p50_ms']}  p95 {results['p95_ms']}  "
        f"p99 {results['p99_ms']}"
    )
    print(f"  statuses           {results['statuses']}  transport errors "
          f"{results['transport_errors']}")  # fmt: skip
    print(f"  resent duplicates  {results['resent_duplicates']}")
    print(
        f"  signals            sent (unique) {results['unique_keys']}  stored "
        f"{results['stored_signals']}  lost {results['lost']}  doubled {results['doubled']}"
    )
    print(
        f"  promotions         {promotions['climbed_once']} of "
        f"{promotions['incidents_falling_due']} climbed exactly once, "
        f"{promotions['not_exactly_once']} not"
    )
    print(f"  notifications      {results['notifications']}")
    for name, ok in results["targets"].items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    print()


if __name__ == "__main__":
    main()
