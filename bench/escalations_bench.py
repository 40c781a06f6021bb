"""The escalation engine under load: freshness, bulk ingest and promotion on a large fleet.

``uv run python -m bench.escalations_bench`` builds (or reuses) the fleet of
bench/fleet.py — 100,000 agents, 1,000,000 evaluations, about a tenth of the agents
with stale evidence — in the benchmark database, empties the escalations tables,
and times, in one run:

1. the freshness job: its selection query next to one hand-written SQL statement
   making the same selection on the same data; the full job (selection plus
   ingesting one stale signal per stale agent); a second run, which must open
   nothing new;
2. bulk ingest through ``signals_ingest_bulk`` in batches of 1,000: signals that
   open new incidents, then signals that join them;
3. promotion of the 10,000 incidents opened in step 2 once they are overdue
   (SEV3 → SEV2), then again (SEV2 → SEV1, whose automatic consequence restricts
   each agent), with the queries of every batch counted.

Everything runs on a fixed clock (the moment the fleet was built), so the stale
share and the deadlines are the same on every run. A table is printed and the
figures are written to ``bench/results/escalations-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections import deque
from datetime import timedelta

from bench.common import ROOT, progress, setup
from bench.fleet import build_fleet

BATCH = 1000
INGEST_SIGNALS = 10_000
SELECTION_REPEATS = 5
RESULTS = ROOT / "bench" / "results"

RAW_SELECTION = """
    SELECT a.id, a.slug, a.evaluation_due_at, pv.pact_id, a.last_evaluated_at,
           (SELECT s.id FROM escalations_signal s
             WHERE s.agent_id = a.id
               AND s.kind = 'evaluation_stale'
               AND s.observed_at >= a.evaluation_due_at
               AND s.suppressed
             ORDER BY s.observed_at DESC, s.id DESC
             LIMIT 1)
      FROM trust_agent a
      LEFT JOIN trust_pactversion pv ON pv.id = a.pact_version_id
     WHERE a.evaluation_due_at < %s
       AND a.status <> 'retired'
       AND NOT EXISTS (
             SELECT 1 FROM escalations_signal s
              WHERE s.agent_id = a.id
                AND s.kind = 'evaluation_stale'
                AND s.observed_at >= a.evaluation_due_at
                AND NOT s.suppressed)
     ORDER BY a.id
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--evaluations", type=int, default=1_000_000)
    parser.add_argument("--label", default="", help="A name for this run, kept in the JSON.")
    args = parser.parse_args()

    print("escalations benchmark", flush=True)
    load_before = os.getloadavg()[0]
    setup()
    from atoc.core.history import get_system_user

    print("[1/5] fleet", flush=True)
    build_fleet(agents=args.agents, evaluations=args.evaluations)
    clock = _fleet_clock()
    get_system_user()
    print("[2/5] empty the escalations tables", flush=True)
    _reset()

    results: dict = {}
    print("[3/5] freshness", flush=True)
    results["freshness"] = _bench_freshness(clock)
    print("[4/5] bulk ingest", flush=True)
    agent_slugs = _ingest_agents(INGEST_SIGNALS)
    results["ingest"] = _bench_ingest(clock, agent_slugs)
    print("[5/5] promotion", flush=True)
    results["promotion"] = _bench_promotion(clock, expected=len(agent_slugs))

    report = {
        "label": args.label,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        # Other work on the machine skews the figures: the 1-minute load at the start and end.
        "load_average": [load_before, os.getloadavg()[0]],
        "machine": _machine(),
        "fleet": {"agents": args.agents, "evaluations": args.evaluations},
        "results": results,
    }
    _print_table(results)
    print(f"\nload average (1 min) at start and end: {load_before:.2f}, {os.getloadavg()[0]:.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"escalations-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nwritten to {path.relative_to(ROOT)}")


# --- preparation ---------------------------------------------------------------------------


def _fleet_clock():
    """The bench clock: just after the fleet was built, when a tenth of it is stale."""
    from trust.models import Agent

    built = (
        Agent.objects.filter(slug__startswith="bench-")
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return built + timedelta(minutes=1)


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
        cursor.execute("VACUUM ANALYZE trust_agent")
    progress("escalations tables empty, agents reset")


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in (
            "escalations_signal",
            "escalations_incident",
            "escalations_incident_counterparts",
            "escalations_timelineentry",
            "escalations_notification",
            "escalations_historicalincident",
        ):
            cursor.execute(f"ANALYZE {table}")


def _ingest_agents(count: int) -> list[str]:
    """Slugs of ``count`` agents that are not stale (their incidents are the bench's)."""
    from trust.models import Agent

    return list(
        Agent.objects.filter(slug__startswith="bench-")
        .order_by("-evaluation_due_at", "pk")
        .values_list("slug", flat=True)[:count]
    )


# --- measurements --------------------------------------------------------------------------


def _count_queries(fn):
    """Run ``fn``; return its result, the seconds it took and the queries it made."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Keep every query, not only the last 9,000 (Django's default for its log).
    connection.queries_log = deque(maxlen=1_000_000)
    with CaptureQueriesContext(connection) as ctx:
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
    return result, seconds, list(ctx.captured_queries)


def _breakdown(seconds: float, queries: list[dict], items: int) -> dict:
    """Where the time went, in ms per 1,000 items: statements, commit, Python.

    Statements include the driver's sending of parameters; the commit is where
    PostgreSQL runs the deferred foreign-key checks; Python is everything else.
    """
    commit = sum(float(q["time"]) for q in queries if q["sql"] == "COMMIT")
    statements = sum(float(q["time"]) for q in queries if q["sql"] != "COMMIT")
    scale = 1_000_000 / items
    return {
        "statements_ms": statements * scale,
        "commit_ms": commit * scale,
        "python_ms": (seconds - statements - commit) * scale,
    }


def _said(breakdown: dict) -> str:
    return (
        f"per 1,000: statements {breakdown['statements_ms']:.0f} ms, commit "
        f"{breakdown['commit_ms']:.0f} ms, Python {breakdown['python_ms']:.0f} ms"
    )


def _median_seconds(fn, repeats: int = SELECTION_REPEATS) -> tuple[float, object]:
    result, timings = None, []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), result


def _raw_selection(now):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(RAW_SELECTION, [now])
        return cursor.fetchall()


def _job_selection(now):
    from escalations.services.freshness import stale_agents_to_signal

    return list(stale_agents_to_signal(now=now))


def _compare_selections(now, when: str) -> dict:
    raw_seconds, raw_rows = _median_seconds(lambda: _raw_selection(now))
    job_seconds, job_rows = _median_seconds(lambda: _job_selection(now))
    assert [tuple(r) for r in raw_rows] == [tuple(r) for r in job_rows], "selections differ"
    progress(
        f"selection {when}: {len(raw_rows)} rows; raw SQL {raw_seconds * 1000:.1f} ms, "
        f"job's query {job_seconds * 1000:.1f} ms ({job_seconds / raw_seconds:.2f}×)"
    )
    return {
        "rows": len(raw_rows),
        "raw_sql_s": raw_seconds,
        "job_query_s": job_seconds,
        "ratio": job_seconds / raw_seconds,
    }


def _bench_freshness(clock) -> dict:
    from escalations.models import Incident, Signal
    from escalations.services.freshness import freshness_check

    stale = _compare_selections(clock, "before the job")
    created, seconds, queries = _count_queries(lambda: freshness_check(now=clock))
    progress(
        f"full job: {created} stale signals ingested in {seconds:.2f} s "
        f"({created / seconds:,.0f}/s, {len(queries)} queries)"
    )
    progress(f"full job: {_said(_breakdown(seconds, queries, created))}")
    counts = (Signal.objects.count(), Incident.objects.count())
    _analyze()
    second_runs = []
    for _ in range(3):
        again, again_seconds, again_queries = _count_queries(lambda: freshness_check(now=clock))
        assert again == 0, f"the second run created {again} signals"
        second_runs.append(again_seconds)
    assert (Signal.objects.count(), Incident.objects.count()) == counts, "second run wrote"
    second = statistics.median(second_runs)
    progress(f"second run: nothing new, {second * 1000:.1f} ms ({len(again_queries)} queries)")
    after = _compare_selections(clock, "after the job")
    return {
        "stale_agents": stale["rows"],
        "selection_before_job": stale,
        "full_job": {
            "signals": created,
            "incidents": counts[1],
            "seconds": seconds,
            "signals_per_s": created / seconds,
            "queries": len(queries),
            "breakdown": _breakdown(seconds, queries, created),
        },
        "second_run": {
            "seconds": second,
            "queries": len(again_queries),
            "vs_raw_sql": second / after["raw_sql_s"],
        },
        "selection_after_job": after,
    }


def _bench_ingest(clock, slugs: list[str]) -> dict:
    return {
        "opening": _ingest_batches(clock, slugs, "open"),
        "joining": _ingest_batches(clock, slugs, "join"),
    }


def _ingest_batches(clock, slugs: list[str], phase: str) -> dict:
    from atoc.core.history import get_system_user
    from escalations.services.signals import signals_ingest_bulk

    actor = get_system_user()
    observed = (clock - timedelta(minutes=2)).isoformat()
    total_seconds, per_batch_queries, outcomes_seen = 0.0, [], {"opened": 0, "joined": 0}
    all_queries: list[dict] = []
    for start in range(0, len(slugs), BATCH):
        items = [
            {
                "agent": slug,
                "kind": "pact_breach",
                "observed_at": observed,
                "source": "bench",
                "idempotency_key": f"{phase}-{slug}",
                "value": 0.5,
                "payload": {"metric": "task_success_rate", "value": 0.5, "threshold": 0.9},
            }
            for slug in slugs[start : start + BATCH]
        ]
        outcomes, seconds, queries = _count_queries(
            lambda items=items: signals_ingest_bulk(items=items, actor=actor, now=clock)
        )
        total_seconds += seconds
        per_batch_queries.append(len(queries))
        all_queries += queries
        for outcome in outcomes:
            outcomes_seen["opened" if outcome.opened else "joined"] += 1
        progress(
            f"{phase}: batch {start // BATCH + 1}/{-(-len(slugs) // BATCH)}: "
            f"{len(items)} signals in {seconds * 1000:.0f} ms, {len(queries)} queries"
        )
        if start == 0:
            _analyze()
    rate = len(slugs) / total_seconds
    breakdown = _breakdown(total_seconds, all_queries, len(slugs))
    progress(f"{phase}: {len(slugs)} signals, {rate:,.0f} signals/s; {_said(breakdown)}")
    expected = "opened" if phase == "open" else "joined"
    assert outcomes_seen[expected] == len(slugs), outcomes_seen
    return {
        "signals": len(slugs),
        "batch_size": BATCH,
        "seconds": total_seconds,
        "signals_per_s": rate,
        "queries_per_batch": sorted(set(per_batch_queries)),
        "breakdown": breakdown,
    }


def _bench_promotion(clock, *, expected: int) -> dict:
    from escalations.models import Incident
    from escalations.services.promotion import incidents_promote_overdue, overdue_q

    results = {}
    steps = [
        ("sev3_to_sev2", clock + timedelta(hours=2)),
        ("sev2_to_sev1", clock + timedelta(hours=2, minutes=30)),
    ]
    for name, now in steps:
        overdue = Incident.objects.filter(overdue_q(now)).count()
        assert overdue == expected, f"{overdue} overdue incidents, expected {expected}"
        promoted, seconds, queries = _count_queries(
            lambda now=now: incidents_promote_overdue(now=now)
        )
        assert promoted == expected, f"promoted {promoted} of {expected}"
        before, batches = _split_batches([q["sql"] for q in queries])
        breakdown = _breakdown(seconds, queries, promoted)
        full = sorted({len(batch) for batch in batches[:-1]})
        progress(
            f"{name}: {promoted} incidents in {seconds:.2f} s ({promoted / seconds:,.0f}/s); "
            f"{len(batches) - 1} batches of {promoted // (len(batches) - 1)}, queries per "
            f"batch {full}, {len(batches[-1])} for the last (empty) claim, {len(before)} before"
        )
        progress(f"{name}: {_said(breakdown)}")
        results[name] = {
            "incidents": promoted,
            "seconds": seconds,
            "incidents_per_s": promoted / seconds,
            "batches": len(batches) - 1,
            "queries_per_batch": full,
            "queries_last_empty_claim": len(batches[-1]),
            "queries_before_first_batch": len(before),
            "queries_total": len(queries),
            "breakdown": breakdown,
        }
        _analyze()
    return results


def _split_batches(queries: list[str]) -> tuple[list[str], list[list[str]]]:
    """The sweep's queries before its first claim, and those of each batch.

    A batch starts with its claim (the SKIP LOCKED select of incidents) and ends
    with the commit of its transaction.
    """
    before: list[str] = []
    batches: list[list[str]] = []
    for sql in queries:
        if sql.startswith('SELECT "escalations_incident"') and "SKIP LOCKED" in sql:
            batches.append([])
        (batches[-1] if batches else before).append(sql)
    return before, batches


# --- report --------------------------------------------------------------------------------


def _machine() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": server,
        "platform": platform.platform(),
    }


def _print_table(results: dict) -> None:
    fresh = results["freshness"]
    before = fresh["selection_before_job"]
    after = fresh["selection_after_job"]
    full = fresh["full_job"]
    second = fresh["second_run"]
    opening = results["ingest"]["opening"]
    joining = results["ingest"]["joining"]
    rows = [
        ("freshness: stale agents found", f"{fresh['stale_agents']:,}", "", ""),
        ("  selection, raw SQL", f"{before['raw_sql_s'] * 1000:.1f} ms", "", ""),
        (
            "  selection, the job's query",
            f"{before['job_query_s'] * 1000:.1f} ms ({before['ratio']:.2f}×)",
            "≤ 2× raw",
            _ok(before["ratio"] <= 2),
        ),
        (
            "  full job (selection + ingest)",
            f"{full['seconds']:.2f} s, {full['signals_per_s']:,.0f} signals/s",
            "",
            "",
        ),
        ("  second run, raw SQL selection", f"{after['raw_sql_s'] * 1000:.1f} ms", "", ""),
        (
            "  second run, whole job (opens nothing)",
            f"{second['seconds'] * 1000:.1f} ms ({second['vs_raw_sql']:.2f}×), "
            f"{second['queries']} queries",
            "≤ 2× raw",
            _ok(second["vs_raw_sql"] <= 2),
        ),
        (
            "ingest, opening incidents",
            f"{opening['signals_per_s']:,.0f} signals/s, "
            f"{_counts(opening['queries_per_batch'])} queries/batch",
            "≥ 10,000/s",
            _ok(opening["signals_per_s"] >= 10_000),
        ),
        (
            "ingest, joining open incidents",
            f"{joining['signals_per_s']:,.0f} signals/s, "
            f"{_counts(joining['queries_per_batch'])} queries/batch",
            "≥ 10,000/s",
            _ok(joining["signals_per_s"] >= 10_000),
        ),
    ]
    for name, step in results["promotion"].items():
        label = name.replace("_to_", " → ").upper()
        rows.append(
            (
                f"promotion {label}",
                f"{step['incidents_per_s']:,.0f} incidents/s, "
                f"{_counts(step['queries_per_batch'])} queries/batch",
                "≥ 2,000/s, constant",
                _ok(step["incidents_per_s"] >= 2000 and len(step["queries_per_batch"]) == 1),
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    print()
    for row in [("measure", "result", "target", ""), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))

    spent = [
        ("freshness full job", full["breakdown"]),
        ("ingest, opening", opening["breakdown"]),
        ("ingest, joining", joining["breakdown"]),
        *(
            (f"promotion {name.replace('_to_', ' → ').upper()}", step["breakdown"])
            for name, step in results["promotion"].items()
        ),
    ]
    print("\nwhere the time goes, ms per 1,000 items (commit: the deferred foreign-key checks)")
    print(f"  {'':32} {'statements':>10} {'commit':>8} {'Python':>8} {'total':>8}")
    for name, b in spent:
        total = b["statements_ms"] + b["commit_ms"] + b["python_ms"]
        print(
            f"  {name:32} {b['statements_ms']:10.0f} {b['commit_ms']:8.0f} "
            f"{b['python_ms']:8.0f} {total:8.0f}"
        )


def _counts(values: list[int]) -> str:
    return "/".join(str(v) for v in values)


def _ok(passed: bool) -> str:
    return "ok" if passed else "MISSED"


if __name__ == "__main__":
    main()
