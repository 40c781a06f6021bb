"""Bulk-load a large fleet into the benchmark database with COPY.

``python bench/fleet.py --agents 100000 --evaluations 1000000`` builds three teams,
one published pact version, the agents (about a tenth of them with stale evidence)
and their evaluations (one result row each), in minutes. Running it again with the
same sizes reuses what is there.
"""

import argparse
import random
from datetime import timedelta

from bench.common import progress, setup

STALE_SHARE = 0.1


def build_fleet(*, agents: int, evaluations: int, seed: int = 1) -> dict:
    """Create the fleet unless it already has ``agents`` agents; return its ids."""
    from django.db import connection, transaction
    from django.utils import timezone

    from atoc.core.history import get_system_user
    from trust.models import Agent, Evaluation, Pact, Team
    from trust.services.agents import team_create
    from trust.services.pacts import pact_create, pact_version_create

    actor = get_system_user()
    teams = []
    for slug in ("bench-ops", "bench-finance", "bench-eng"):
        team = Team.objects.filter(slug=slug).first() or team_create(
            slug=slug, name=slug.replace("-", " ").title(), actor=actor
        )
        teams.append(team)
    pact = Pact.objects.filter(slug="bench-pact").first()
    if pact is None:
        pact = pact_create(slug="bench-pact", name="Bench pact", actor=actor)
        pact_version_create(
            pact=pact,
            freshness_window=timedelta(days=7),
            review_cadence=timedelta(days=30),
            obligations=[
                {
                    "metric": "task_success_rate",
                    "comparator": "gte",
                    "threshold": 0.9,
                    "unit": "ratio",
                    "window": timedelta(days=1),
                    "breach_severity": "SEV3",
                }
            ],
            publish=True,
            actor=actor,
        )
    version = pact.versions.get(number=1)
    obligation = version.obligations.get()
    existing = Agent.objects.filter(slug__startswith="bench-").count()
    result = {"pact_version_id": version.pk, "team_ids": [t.pk for t in teams]}
    if existing >= agents:
        progress(f"fleet already loaded: {existing} agents, {Evaluation.objects.count()} evals")
        return result

    rng = random.Random(seed)
    now = timezone.now()
    window = version.freshness_window
    per_agent = max(1, evaluations // agents)
    progress(f"loading {agents} agents and {agents * per_agent} evaluations with COPY")
    with transaction.atomic(), connection.cursor() as cursor:
        pg = cursor.connection  # the psycopg connection
        last_seen = []
        with pg.cursor().copy(
            "COPY trust_agent (slug, name, team_id, tier, description, status, autonomy, "
            "routing, pact_version_id, pact_assigned_at, created_at, current_score, score_at, "
            "last_evaluated_at, evaluation_due_at, open_incident_count, "
            "highest_open_severity, highest_open_severity_rank, updated_at) FROM STDIN"
        ) as copy:
            for i in range(existing, agents):
                stale = rng.random() < STALE_SHARE
                age = (
                    window + timedelta(hours=rng.randint(1, 240))
                    if stale
                    else timedelta(hours=rng.randint(1, 160))
                )
                last = now - age
                last_seen.append(last)
                copy.write_row(
                    (
                        f"bench-{i:07d}",
                        f"Bench agent {i}",
                        teams[i % 3].pk,
                        1 + i % 3,
                        "",
                        "active",
                        "supervised",
                        "live",
                        version.pk,
                        now - timedelta(days=60),
                        now,
                        800,
                        last,
                        last,
                        last + window,
                        0,
                        "",
                        0,
                        now,
                    )
                )
                if (i + 1) % 20000 == 0:
                    progress(f"agents {i + 1}/{agents}")
        cursor.execute(
            "SELECT id FROM trust_agent WHERE slug LIKE 'bench-%%' ORDER BY slug OFFSET %s",
            [existing],
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM trust_evaluation")
        next_eval = cursor.fetchone()[0] + 1
        with pg.cursor().copy(
            "COPY trust_evaluation (id, agent_id, pact_version_id, evaluator, evaluator_kind, "
            "independent, suite, started_at, completed_at, verdict, passed_count, failed_count, "
            "trace_url, evidence_uri, evidence_sha256, submitted_by_id, created_at) FROM STDIN"
        ) as copy:
            for n, (agent_id, last) in enumerate(zip(ids, last_seen, strict=True)):
                for k in range(per_agent):
                    done = last - timedelta(days=7 * k)
                    copy.write_row(
                        (
                            next_eval + n * per_agent + k,
                            agent_id,
                            version.pk,
                            "bench-runner",
                            "code",
                            k % 2 == 0,
                            "bench",
                            done - timedelta(minutes=5),
                            done,
                            "pass",
                            1,
                            0,
                            "",
                            "",
                            "",
                            actor.pk,
                            done,
                        )
                    )
                if (n + 1) % 20000 == 0:
                    progress(f"evaluations for {n + 1}/{len(ids)} agents")
        with pg.cursor().copy(
            "COPY trust_evaluationresult (evaluation_id, obligation_id, value, label, "
            "explanation, passed) FROM STDIN"
        ) as copy:
            for e in range(len(ids) * per_agent):
                copy.write_row((next_eval + e, obligation.pk, 0.97, "", "", True))
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('trust_evaluation', 'id'), "
            "(SELECT MAX(id) FROM trust_evaluation))"
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE trust_agent")
        cursor.execute("ANALYZE trust_evaluation")
    progress("fleet loaded")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--evaluations", type=int, default=1_000_000)
    args = parser.parse_args()
    setup()
    build_fleet(agents=args.agents, evaluations=args.evaluations)


if __name__ == "__main__":
    main()
