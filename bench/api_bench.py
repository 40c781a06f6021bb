"""The REST API under load, over HTTP, against gunicorn on the 100,000-agent fleet.

``uv run python -m bench.api_bench`` builds (or reuses) the fleet of bench/fleet.py
— 100,000 agents, 1,000,000 evaluations — in its own database
(``BENCH_DATABASE_URL``, default ``atoc_bench_api``: the escalations benchmark
empties the escalations tables of ``atoc_bench``), empties the escalations tables,
starts gunicorn on 127.0.0.1 with the production settings (DEBUG off, persistent
database connections, Redis cache and throttles; secrets generated for the run,
the HTTPS redirect off on loopback and the throttle raised above the load), creates
an API key and measures, in one run:

1. bulk ingest: ``POST /api/v1/signals/`` with 1,000 signals per request from a
   few concurrent clients, next to a raw psycopg ``executemany`` of the same rows
   into a bare table (the floor: what storing the rows alone costs);
2. single signals: 32 concurrent clients each posting one signal per request over
   a keep-alive connection, bounded in count and in time;
3. reads from one client: ``GET /api/v1/incidents/`` (a page of 50) and
   ``GET /api/v1/agents/{slug}/trust/`` (a signed statement) for random agents.

Everything runs on loopback. Next to the rates and latencies, each phase reports
the CPU time the server (gunicorn) and PostgreSQL spent per signal or request, read
from /proc: other work on the machine slows the rates down but not that, so it gives
the rate the phase would reach with the cores to itself. A table is printed and the
figures are written to ``bench/results/api-<time>.json``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import platform
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta

from bench.common import ROOT, progress, setup
from bench.fleet import build_fleet

RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/atoc_bench_api"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
BATCH = 1000
TARGETS = {
    "bulk_signals_per_s": 5000,
    "single_requests_per_s": 300,
    "single_p99_ms": 250,
    "incidents_p95_ms": 50,
    "trust_p95_ms": 20,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--evaluations", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=None, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process")
    parser.add_argument("--bulk-requests", type=int, default=40, help="requests of 1,000")
    parser.add_argument("--bulk-clients", type=int, default=3)
    parser.add_argument("--single-clients", type=int, default=32)
    parser.add_argument("--single-requests", type=int, default=6000, help="at most, in all")
    parser.add_argument("--single-seconds", type=float, default=30.0, help="at most")
    parser.add_argument(
        "--single-agents",
        type=int,
        default=8,
        help="agents per single-signal client: the first signal of each opens an incident",
    )
    parser.add_argument("--read-requests", type=int, default=400, help="per read endpoint")
    parser.add_argument("--label", default="", help="A name for this run, kept in the JSON.")
    args = parser.parse_args()
    workers = args.workers or 2 * (os.cpu_count() or 1)

    os.environ.setdefault("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    print("API benchmark", flush=True)
    load_before = os.getloadavg()[0]
    setup()

    print("[1/6] fleet", flush=True)
    build_fleet(agents=args.agents, evaluations=args.evaluations)
    print("[2/6] empty the escalations tables, create an API key", flush=True)
    _reset()
    raw_key = _api_key()
    slugs, ids = _fleet_agents()

    port = _free_port()
    print(f"[3/6] gunicorn on 127.0.0.1:{port} ({workers} workers x {args.threads} threads)")
    server, log = _start_server(port, workers=workers, threads=args.threads)
    results: dict = {}
    try:
        _wait_ready(port, server, log)
        _warm_up(port, raw_key, slugs, workers)
        meter = CpuMeter(server.pid, os.environ["DATABASE_URL"].rsplit("/", 1)[1])
        rng = random.Random(7)
        pool = rng.sample(slugs, 30_000)
        bulk_pool, single_pool = pool[:15_000], pool[15_000:]

        print("[4/6] bulk ingest over HTTP, and the raw insert of the same rows", flush=True)
        bodies = _bulk_bodies(bulk_pool, args.bulk_requests, args.bulk_clients)
        meter.start()
        results["bulk"] = _bench_bulk(port, raw_key, bodies)
        results["bulk"].update(_cpu_figures(meter.stop(), results["bulk"]["signals"], "signal"))
        results["bulk"]["raw_executemany"] = _bench_raw_insert(bodies, ids)
        raw_rate = results["bulk"]["raw_executemany"]["rows_per_s"]
        results["bulk"]["http_vs_raw"] = round(results["bulk"]["signals_per_s"] / raw_rate, 3)

        print(f"[5/6] single signals from {args.single_clients} concurrent clients", flush=True)
        meter.start()
        results["single"] = _bench_single(
            port,
            raw_key,
            single_pool,
            clients=args.single_clients,
            limit=args.single_requests,
            seconds=args.single_seconds,
            agents_per_client=args.single_agents,
        )
        single_cpu = _cpu_figures(meter.stop(), results["single"]["requests"], "request")
        results["single"].update(single_cpu)

        print("[6/6] reads", flush=True)
        _analyze()
        incident_paths = ["/api/v1/incidents/?page_size=50"] * args.read_requests
        meter.start()
        results["incidents_page"] = _bench_reads(port, raw_key, incident_paths)
        results["incidents_page"].update(_cpu_figures(meter.stop(), len(incident_paths), "request"))
        trust_paths = [f"/api/v1/agents/{slug}/trust/" for slug in rng.sample(slugs, 2_000)]
        trust_paths = trust_paths[: args.read_requests]
        meter.start()
        results["trust_statement"] = _bench_reads(port, raw_key, trust_paths)
        results["trust_statement"].update(_cpu_figures(meter.stop(), len(trust_paths), "request"))
    finally:
        _stop_server(server)
    results["targets"] = _verdicts(results)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "gunicorn": f"{workers} workers (gthread) x {args.threads} threads",
    }
    results["label"] = args.label
    _report(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"api-{stamp}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"results written to {path.relative_to(ROOT)}")


# --- the database ------------------------------------------------------------------------


def _reset() -> None:
    """Empty what the engine writes; put the fleet's agents back as they were built."""
    from django.db import connection

    from escalations.models import (
        Decision,
        Escalation,
        Incident,
        Notification,
        RiskAcceptance,
        Signal,
        TimelineEntry,
    )

    models = [
        Signal,
        Incident,
        Incident.counterparts.through,
        Incident.first_counterparts.through,
        Incident.history.model,
        TimelineEntry,
        Escalation,
        Decision,
        Notification,
        RiskAcceptance,
        RiskAcceptance.history.model,
    ]
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        cursor.execute(
            "UPDATE trust_agent SET status = 'active', autonomy = 'supervised', "
            "routing = 'live', open_incident_count = 0, highest_open_severity = '', "
            "highest_open_severity_rank = 0 WHERE slug LIKE 'bench-%%' AND ("
            "status <> 'active' OR autonomy <> 'supervised' OR routing <> 'live' "
            "OR open_incident_count <> 0)"
        )
        cursor.execute("DELETE FROM core_idempotencyrecord")
        cursor.execute("VACUUM ANALYZE trust_agent")
    progress("escalations tables empty, agents reset")


def _api_key() -> str:
    from atoc.core.services import api_key_create

    _, raw = api_key_create(
        name=f"api-bench-{secrets.token_hex(3)}",
        scopes=["read", "signals:write", "evaluations:write"],
    )
    return raw


def _fleet_agents() -> tuple[list[str], dict[str, int]]:
    from trust.models import Agent

    rows = list(
        Agent.objects.filter(slug__startswith="bench-").order_by("pk").values_list("slug", "pk")
    )
    return [slug for slug, _ in rows], dict(rows)


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in (
            "escalations_signal",
            "escalations_incident",
            "escalations_incident_counterparts",
            "trust_agent",
        ):
            cursor.execute(f"ANALYZE {table}")


# --- the server --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env() -> dict:
    signing_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "ATOC_TRUST_SIGNING_KEY": signing_key,
        "ATOC_API_THROTTLE_RATE": "10000000/min",  # measure the API, not the throttle
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def _start_server(port: int, *, workers: int, threads: int):
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the server's life
        prefix="api-bench-gunicorn-", suffix=".log", delete=False
    )
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--timeout",
        "120",
    ]
    server = subprocess.Popen(
        command, cwd=ROOT, env=_server_env(), stdout=log, stderr=subprocess.STDOUT
    )
    return server, log


def _wait_ready(port: int, server, log, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{_tail(log.name)}")
        try:
            status, _, _ = Client(port).request("GET", "/api/v1/trust/keys/")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer within {timeout:.0f} s:\n{_tail(log.name)}")


def _tail(path: str, lines: int = 40) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return "".join(handle.readlines()[-lines:])


def _stop_server(server) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class Client:
    """One keep-alive HTTP/1.1 connection to the server, sending the API key."""

    def __init__(self, port: int, raw_key: str | None = None) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if raw_key:
            self.headers["Authorization"] = f"Bearer {raw_key}"

    def request(self, method: str, path: str, body: bytes | None = None):
        """``(status, body bytes, seconds)``; reconnects once if the server closed the link."""
        for attempt in (1, 2):
            start = time.perf_counter()
            try:
                self.connection.request(method, path, body=body, headers=self.headers)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.connection.close()
                if attempt == 2:
                    raise
                continue
            return response.status, data, time.perf_counter() - start
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


def _warm_up(port: int, raw_key: str, slugs: list[str], workers: int) -> None:
    """Give every worker its imports, connections and first queries before timing."""
    warm_slugs = slugs[-workers * 4 :]

    def warm(index: int) -> None:
        client = Client(port, raw_key)
        for path in ("/api/v1/incidents/", f"/api/v1/agents/{warm_slugs[index]}/trust/"):
            client.request("GET", path)
        body = _signal(warm_slugs[index], f"warm-{index}-{secrets.token_hex(4)}")
        client.request("POST", "/api/v1/signals/", json.dumps(body).encode())
        client.close()

    threads = [threading.Thread(target=warm, args=(i,)) for i in range(len(warm_slugs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# --- CPU accounting ----------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds of the server (gunicorn master and workers) and of the PostgreSQL
    backends of the benchmark database, between :meth:`start` and :meth:`stop`.

    The machine may be busy with other work; CPU time per request does not depend on
    that, and the cores divided by it bound the throughput on an idle machine.
    """

    def __init__(self, server_pid: int, database: str) -> None:
        self.server_pid = server_pid
        self.database = database
        self._before: dict[str, dict[int, float]] = {}

    def _processes(self) -> dict[str, dict[int, float]]:
        found: dict[str, dict[int, float]] = {"python": {}, "postgres": {}}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    stat = handle.read()
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            ppid, seconds = int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS
            pid = int(entry)
            if self.server_pid in (pid, ppid):
                found["python"][pid] = seconds
            elif cmdline.startswith("postgres:") and f" {self.database} " in cmdline:
                found["postgres"][pid] = seconds
        return found

    def start(self) -> None:
        self._before = self._processes()

    def stop(self) -> dict[str, float]:
        after = self._processes()
        spent = {}
        for kind, processes in after.items():
            before = self._before.get(kind, {})
            spent[kind] = sum(max(0.0, s - before.get(pid, 0.0)) for pid, s in processes.items())
        return spent


def _cpu_figures(spent: dict[str, float], units: int, unit: str) -> dict:
    python_ms = spent["python"] * 1000 / units
    postgres_ms = spent["postgres"] * 1000 / units
    total = python_ms + postgres_ms
    cores = os.cpu_count() or 1
    return {
        f"server_python_cpu_ms_per_{unit}": round(python_ms, 3),
        f"postgres_cpu_ms_per_{unit}": round(postgres_ms, 3),
        f"idle_machine_bound_{unit}s_per_s": round(cores * 1000 / total, 1) if total else None,
    }


# --- the measurements --------------------------------------------------------------------

_RUN = secrets.token_hex(4)
_OBSERVED = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


def _signal(slug: str, key: str, kind: str = "pact_breach") -> dict:
    return {
        "agent": slug,
        "kind": kind,
        "observed_at": _OBSERVED,
        "value": 0.42,
        "source": "api-bench",
        "idempotency_key": key,
        "payload": {"suite": "nightly", "run": _RUN},
    }


def _bulk_bodies(pool: list[str], requests: int, clients: int) -> list[list[list[dict]]]:
    """Per client, its requests of 1,000 signals; each client keeps to its own agents.

    A client's agents get several signals each over the run: the first opens an
    incident, the later ones join it, as a runner reporting on its fleet would.
    """
    per_client = len(pool) // clients
    plan = []
    for c in range(clients):
        agents = pool[c * per_client : (c + 1) * per_client][:5_000]
        mine = []
        for r in range(c, requests, clients):
            mine.append(
                [_signal(agents[(r * BATCH + n) % len(agents)], f"b{r}-{n}") for n in range(BATCH)]
            )
        plan.append(mine)
    return plan


def _bench_bulk(port: int, raw_key: str, plan: list[list[list[dict]]]) -> dict:
    encoded = [[json.dumps(items).encode() for items in mine] for mine in plan]
    latencies: list[float] = []
    statuses: list[int] = []
    errors: list[str] = []

    def run(bodies: list[bytes]) -> None:
        client = Client(port, raw_key)
        for body in bodies:
            status, data, seconds = client.request("POST", "/api/v1/signals/", body)
            statuses.append(status)
            latencies.append(seconds)
            if status not in (200, 201):
                errors.append(data[:300].decode(errors="replace"))
        client.close()

    incidents_before, signals_before = _count("escalations_incident"), _count("escalations_signal")
    threads = [threading.Thread(target=run, args=(bodies,)) for bodies in encoded]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    signals = sum(len(items) for mine in plan for items in mine)
    opened = _count("escalations_incident") - incidents_before
    stored = _count("escalations_signal") - signals_before
    if errors:
        progress(f"bulk errors: {errors[:3]}")
    return {
        "requests": len(statuses),
        "clients": len(plan),
        "signals": signals,
        "seconds": round(wall, 3),
        "signals_per_s": round(signals / wall, 1),
        "request_p50_ms": _ms(_percentile(latencies, 50)),
        "request_p95_ms": _ms(_percentile(latencies, 95)),
        "failed": len(errors),
        "incidents_opened": opened,
        "signals_stored": stored,
        "signals_joining": stored - opened,
    }


def _bench_raw_insert(plan: list[list[list[dict]]], ids: dict[str, int]) -> dict:
    """The same rows with psycopg's executemany into a bare table, 1,000 per transaction."""
    import psycopg
    from psycopg.types.json import Jsonb

    url = os.environ["DATABASE_URL"]
    batches = [
        [
            (
                ids[item["agent"]],
                item["kind"],
                datetime.fromisoformat(item["observed_at"]),
                item["value"],
                item["source"],
                item["idempotency_key"],
                Jsonb(item["payload"]),
            )
            for item in items
        ]
        for mine in plan
        for items in mine
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw_signal (id bigserial PRIMARY KEY, "
            "agent_id bigint NOT NULL, kind varchar(32) NOT NULL, observed_at timestamptz "
            "NOT NULL, value double precision, source varchar(100) NOT NULL, "
            "idempotency_key varchar(255) NOT NULL, payload jsonb NOT NULL)"
        )
        conn.execute("TRUNCATE bench_raw_signal")
        start = time.perf_counter()
        for rows in batches:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO bench_raw_signal (agent_id, kind, observed_at, value, source, "
                    "idempotency_key, payload) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )
        wall = time.perf_counter() - start
        conn.execute("DROP TABLE bench_raw_signal")
    count = sum(len(rows) for rows in batches)
    return {"rows": count, "seconds": round(wall, 3), "rows_per_s": round(count / wall, 1)}


def _bench_single(
    port: int,
    raw_key: str,
    pool: list[str],
    *,
    clients: int,
    limit: int,
    seconds: float,
    agents_per_client: int,
) -> dict:
    """Each client posts one signal per request on its own agents, until the count or time.

    A client's first signal for each of its agents opens an incident; the others join it.
    """
    per_client = max(1, limit // clients)
    agents_each = max(1, len(pool) // clients)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    deadline: list[float] = []

    def run(index: int) -> None:
        agents = pool[index * agents_each : (index + 1) * agents_each][:agents_per_client]
        bodies = [
            json.dumps(_signal(agents[n % len(agents)], f"s{index}-{n}")).encode()
            for n in range(per_client)
        ]
        client = Client(port, raw_key)
        mine, codes = [], {}
        barrier.wait()
        for body in bodies:
            if time.perf_counter() > deadline[0]:
                break
            status, _, elapsed = client.request("POST", "/api/v1/signals/", body)
            mine.append(elapsed)
            codes[status] = codes.get(status, 0) + 1
        client.close()
        with lock:
            latencies.extend(mine)
            for status, count in codes.items():
                statuses[status] = statuses.get(status, 0) + count

    incidents_before = _count("escalations_incident")
    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline.append(time.perf_counter() + seconds)
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return {
        "clients": clients,
        "requests": len(latencies),
        "seconds": round(wall, 3),
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": _ms(_percentile(latencies, 50)),
        "p95_ms": _ms(_percentile(latencies, 95)),
        "p99_ms": _ms(_percentile(latencies, 99)),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "incidents_opened": _count("escalations_incident") - incidents_before,
    }


def _bench_reads(port: int, raw_key: str, paths: list[str]) -> dict:
    client = Client(port, raw_key)
    latencies, failures = [], 0
    for path in paths:
        status, _, seconds = client.request("GET", path)
        latencies.append(seconds)
        failures += status != 200
    client.close()
    return {
        "requests": len(paths),
        "p50_ms": _ms(_percentile(latencies, 50)),
        "p95_ms": _ms(_percentile(latencies, 95)),
        "p99_ms": _ms(_percentile(latencies, 99)),
        "mean_ms": _ms(statistics.fmean(latencies)),
        "failed": failures,
    }


# --- reporting ---------------------------------------------------------------------------


def _count(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _verdicts(results: dict) -> dict:
    bulk, single = results["bulk"], results["single"]
    checks = {
        "bulk_signals_per_s": (bulk["signals_per_s"], ">="),
        "single_requests_per_s": (single["requests_per_s"], ">="),
        "single_p99_ms": (single["p99_ms"], "<="),
        "incidents_p95_ms": (results["incidents_page"]["p95_ms"], "<="),
        "trust_p95_ms": (results["trust_statement"]["p95_ms"], "<="),
    }
    verdicts = {}
    for name, (value, direction) in checks.items():
        target = TARGETS[name]
        met = value >= target if direction == ">=" else value <= target
        verdicts[name] = {"value": value, "target": f"{direction} {target}", "met": met}
    return verdicts


def _report(results: dict) -> None:
    bulk, raw, single = results["bulk"], results["bulk"]["raw_executemany"], results["single"]
    incidents, trust = results["incidents_page"], results["trust_statement"]
    rows = [
        (
            "bulk ingest, HTTP (1,000/request)",
            f"{bulk['signals_per_s']:,.0f} signals/s",
            f"{bulk['signals']:,} signals, {bulk['clients']} clients, "
            f"request p50 {bulk['request_p50_ms']:.0f} ms, p95 {bulk['request_p95_ms']:.0f} ms",
        ),
        (
            "raw executemany, same rows",
            f"{raw['rows_per_s']:,.0f} rows/s",
            f"HTTP/raw = {bulk['http_vs_raw']:.2f}",
        ),
        (
            f"single signals, {single['clients']} clients",
            f"{single['requests_per_s']:,.0f} req/s",
            f"p50 {single['p50_ms']:.1f} / p95 {single['p95_ms']:.1f} / "
            f"p99 {single['p99_ms']:.1f} ms ({single['requests']:,} requests, "
            f"{single['incidents_opened']:,} opening an incident)",
        ),
        (
            "GET /incidents/ (page of 50)",
            f"p50 {incidents['p50_ms']:.1f} ms",
            f"p95 {incidents['p95_ms']:.1f} ms",
        ),
        (
            "GET /agents/{slug}/trust/",
            f"p50 {trust['p50_ms']:.1f} ms",
            f"p95 {trust['p95_ms']:.1f} ms",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for name, figure, detail in rows:
        print(f"  {name:<{width}}  {figure:>18}  {detail}")
    print()
    print("  server CPU per unit (python + postgres), and the throughput it allows on idle cores:")
    for name, section, unit in (
        ("bulk ingest", bulk, "signal"),
        ("single signals", single, "request"),
        ("incidents page", incidents, "request"),
        ("trust statement", trust, "request"),
    ):
        print(
            f"    {name:<16} {section[f'server_python_cpu_ms_per_{unit}']:7.2f} + "
            f"{section[f'postgres_cpu_ms_per_{unit}']:6.2f} ms per {unit:<7} -> "
            f"at most {section[f'idle_machine_bound_{unit}s_per_s']:,.0f} {unit}s/s"
        )
    print()
    for name, verdict in results["targets"].items():
        mark = "met " if verdict["met"] else "MISS"
        print(f"  [{mark}] {name}: {verdict['value']} (target {verdict['target']})")
    print(f"  opened {bulk['incidents_opened']:,} incidents in the bulk phase")
    print(f"  machine: {results['machine']}")


if __name__ == "__main__":
    main()
