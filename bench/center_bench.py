"""The center's pages on a large fleet: p50/p95 time and queries per page.

``uv run python -m bench.center_bench`` builds (or reuses) the fleet of
``bench/fleet.py`` and the incidents of ``bench/incidents.py`` — 100,000 agents,
1,000,000 evaluations, 1,000,000 incidents — in the benchmark database, takes the
metric snapshots (today and eight weeks back, timed: it is the daily job), runs the
systemic issue proposal job once (timed), then requests each page with Django's
test client as a superuser: the admin index (the fleet trust picture), the
incident changelist unfiltered and filtered by severity, an agent's trust story
and the metrics page. Each page is requested ``--repeat`` times after two warm-up
requests; the table shows p50 and p95 milliseconds and the queries of one request
against the targets (p95 ≤ 300 ms, ≤ 25 queries). The figures go to
``bench/results/center-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import timedelta

from bench.common import ROOT, progress, setup

RESULTS = ROOT / "bench" / "results"
TARGET_P95_MS = 300
TARGET_QUERIES = 25


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def measure(client, url: str, repeat: int) -> dict:
    """Time ``repeat`` GETs of ``url`` (after two warm-ups) and count one request's queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:3]
    return {
        "url": url,
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(_percentile(timings, 0.95), 1),
        "max_ms": round(max(timings), 1),
        "queries": len(captured.captured_queries),
        "slowest_queries": [
            {"ms": round(float(q["time"]) * 1000, 1), "sql": q["sql"][:300]} for q in slowest
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--evaluations", type=int, default=1_000_000)
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    print("center benchmark", flush=True)
    load_before = os.getloadavg()[0]
    setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from atoc.center.services.issues import systemic_issues_propose
    from atoc.center.services.metrics import metrics_snapshot_take
    from bench.fleet import build_fleet
    from bench.incidents import build_incidents
    from escalations.models import Incident, SeverityLevel
    from trust.models import Agent

    print("[1/4] fleet and incidents", flush=True)
    build_fleet(agents=args.agents, evaluations=args.evaluations)
    build_incidents(count=args.incidents)

    print("[2/4] jobs: metric snapshots, systemic issue proposals", flush=True)
    jobs = {}
    start = time.perf_counter()
    metrics_snapshot_take()
    jobs["snapshot_today_s"] = round(time.perf_counter() - start, 2)
    today = timezone.now().date()
    for weeks in range(8, 0, -1):
        metrics_snapshot_take(day=today - timedelta(weeks=weeks))
    start = time.perf_counter()
    report = systemic_issues_propose()
    jobs["propose_systemic_issues_s"] = round(time.perf_counter() - start, 2)
    jobs["proposed"] = len(report.proposed)
    progress(f"jobs: {jobs}")

    print("[3/4] pages", flush=True)
    user_model = get_user_model()
    user = user_model.objects.filter(username="bench-admin").first()
    if user is None:
        user = user_model.objects.create_superuser(
            username="bench-admin", email="bench@example.com", password=None
        )
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    sev1 = SeverityLevel.objects.get(name="SEV1")
    busy_agent = (
        Agent.objects.filter(slug__startswith="bench-", open_incident_count__gt=0)
        .order_by("-highest_open_severity_rank", "pk")
        .first()
    )
    pages = {
        "admin index (fleet trust picture)": "/admin/",
        "incidents changelist": "/admin/escalations/incident/",
        "incidents changelist, severity SEV1": (
            f"/admin/escalations/incident/?severity__id__exact={sev1.pk}"
        ),
        "incidents changelist, overdue": "/admin/escalations/incident/?overdue=yes",
        "agent page (trust story)": f"/admin/trust/agent/{busy_agent.pk}/story/",
        "metrics page": "/admin/metrics/",
    }
    results = {}
    # The fleet picture once more with its grouped counts recomputed on every request
    # (what the first request after any change costs).
    from django.conf import settings

    cached_for = settings.ATOC_FLEET_PICTURE_CACHE_SECONDS
    settings.ATOC_FLEET_PICTURE_CACHE_SECONDS = 0
    results["admin index, counts not cached"] = measure(client, "/admin/", args.repeat)
    settings.ATOC_FLEET_PICTURE_CACHE_SECONDS = cached_for
    for label, url in pages.items():
        results[label] = measure(client, url, args.repeat)
        r = results[label]
        progress(f"{label}: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, {r['queries']} queries")

    print("[4/4] report", flush=True)
    print(f"\n{'page':42} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}  target")
    for label, r in results.items():
        ok = r["p95_ms"] <= TARGET_P95_MS and r["queries"] <= TARGET_QUERIES
        print(
            f"{label:42} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['queries']:8d}  "
            f"{'ok' if ok else 'MISSED'}"
        )
    document = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average": [load_before, os.getloadavg()[0]],
        "fleet": {
            "agents": Agent.objects.count(),
            "incidents": Incident.objects.count(),
            "evaluations": args.evaluations,
        },
        "targets": {"p95_ms": TARGET_P95_MS, "queries": TARGET_QUERIES},
        "jobs": jobs,
        "pages": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"center-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"\nload average (1 min) at start and end: {load_before:.2f}, {os.getloadavg()[0]:.2f}")
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
