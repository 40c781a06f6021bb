"""Bulk-load a million incidents (and what the center keeps about them) with COPY.

``python -m bench.incidents --incidents 1000000`` adds, on top of the fleet of
``bench/fleet.py`` (100,000 agents), incidents opened over the last year: about 5 %
unresolved (open, acknowledged or decided, on distinct agents, some overdue) and
the rest resolved, each decided or resolved one with its Decision; then fleet
review coverage for a third of the agents and feedback on 20,000 incidents. The
agents' open-incident read fields are recomputed at the end. Running it again with
the same size reuses what is there.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import timedelta

from bench.common import progress, setup

KINDS = ["pact_breach", "score_drop", "evaluation_stale", "incident_flag", "settlement_dispute"]
LEVEL_WEIGHTS = {"SEV4": 30, "SEV3": 45, "SEV2": 18, "SEV1": 7}
CONSEQUENCES = ["monitor", "monitor", "monitor", "require_review", "restrict_autonomy", "reroute"]


def build_incidents(*, count: int, unresolved_share: float = 0.05, days: int = 365, seed: int = 2):
    """Load ``count`` incidents unless there are already that many."""
    from django.apps import apps
    from django.db import connection, transaction
    from django.utils import timezone

    from atoc.core.history import get_system_user
    from escalations.defaults import install_defaults
    from escalations.models import Control, Incident, SeverityLevel
    from escalations.services.ladder import ladder_levels, ladder_snapshot_for
    from trust.models import Agent

    existing = Incident.objects.count()
    if existing >= count:
        progress(f"incidents already loaded: {existing}")
        return
    if existing:
        raise SystemExit(
            f"The benchmark database holds {existing} incidents from another run: empty the "
            "escalations and center tables first (or use another BENCH_DATABASE_URL)."
        )
    install_defaults(apps)
    actor = get_system_user()
    levels = {level.name: level for level in SeverityLevel.objects.all()}
    controls = {c.signal_kind: c.pk for c in Control.objects.all()}
    ladder = ladder_snapshot_for(ladder_levels())
    agents = list(
        Agent.objects.filter(slug__startswith="bench-")
        .order_by("pk")
        .values_list("pk", "pact_version__pact_id")
    )
    rng = random.Random(seed)
    now = timezone.now()
    names = list(LEVEL_WEIGHTS)
    weights = list(LEVEL_WEIGHTS.values())
    unresolved = min(int(count * unresolved_share), len(agents))
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM escalations_incident")
        first_id = cursor.fetchone()[0] + 1
    decisions = []
    progress(f"loading {count} incidents ({unresolved} unresolved) with COPY")
    with transaction.atomic(), connection.cursor() as cursor:
        pg = cursor.connection
        with pg.cursor().copy(
            "COPY escalations_incident (id, agent_id, kind, pact_id, control_id, severity_id, "
            "state, owner_id, rerouted, grouping_key, opened_at, acknowledged_at, decided_at, "
            "resolved_at, ack_due_at, decision_due_at, reminders_sent, signal_count, "
            "last_signal_at, ladder_id, routing_snapshot) FROM STDIN"
        ) as copy:
            for n in range(count):
                pk = first_id + n
                if n < unresolved:
                    agent_id, pact_id = agents[n]
                else:
                    agent_id, pact_id = agents[rng.randrange(len(agents))]
                kind = rng.choice(KINDS)
                level = levels[rng.choices(names, weights)[0]]
                acknowledged = decided = resolved = ack_due = decision_due = None
                if n < unresolved:
                    opened = now - timedelta(minutes=rng.randint(1, 3 * 24 * 60))
                    roll = rng.random()
                    if roll < 0.6:
                        state = "open"
                        ack_due = opened + level.ack_deadline
                    elif roll < 0.85:
                        state = "acknowledged"
                        acknowledged = opened + timedelta(minutes=rng.randint(1, 60))
                        decision_due = acknowledged + level.decision_deadline
                    else:
                        state = "decided"
                        acknowledged = opened + timedelta(minutes=rng.randint(1, 60))
                        decided = acknowledged + timedelta(minutes=rng.randint(5, 600))
                else:
                    state = "resolved"
                    opened = now - timedelta(minutes=rng.randint(60 * 24 * 4, days * 24 * 60))
                    acknowledged = opened + timedelta(minutes=rng.randint(5, 360))
                    decided = acknowledged + timedelta(minutes=rng.randint(10, 3 * 24 * 60))
                    resolved = decided + timedelta(minutes=rng.randint(60, 2 * 24 * 60))
                copy.write_row(
                    (
                        pk,
                        agent_id,
                        kind,
                        pact_id,
                        controls[kind],
                        level.pk,
                        state,
                        None,
                        rng.random() < 0.08,
                        f"{agent_id}:{kind}:{pact_id or ''}",
                        opened,
                        acknowledged,
                        decided,
                        resolved,
                        ack_due,
                        decision_due,
                        0,
                        1,
                        opened,
                        ladder.pk,
                        "{}",
                    )
                )
                if decided is not None:
                    decisions.append((pk, agent_id, decided))
                if (n + 1) % 200_000 == 0:
                    progress(f"incidents {n + 1}/{count}")
        progress(f"loading {len(decisions)} decisions")
        before = json.dumps({"status": "active", "autonomy": "supervised", "routing": "live"})
        with pg.cursor().copy(
            "COPY escalations_decision (incident_id, agent_id, consequence, rationale, actor_id, "
            "decided_at, agent_before, agent_after) FROM STDIN"
        ) as copy:
            for incident_id, agent_id, decided in decisions:
                copy.write_row(
                    (
                        incident_id,
                        agent_id,
                        rng.choice(CONSEQUENCES),
                        "Bench decision",
                        actor.pk,
                        decided,
                        before,
                        before,
                    )
                )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('escalations_incident', 'id'), "
            "(SELECT MAX(id) FROM escalations_incident))"
        )
        _reviews_and_feedback(cursor, pg, agents, actor, now, rng)
        progress("agents' open-incident read fields")
        cursor.execute(
            """
            UPDATE trust_agent a
               SET open_incident_count = s.n,
                   highest_open_severity = l.name,
                   highest_open_severity_rank = s.top
              FROM (SELECT i.agent_id, COUNT(*) AS n, MAX(sl.rank) AS top
                      FROM escalations_incident i
                      JOIN escalations_severitylevel sl ON sl.id = i.severity_id
                     WHERE i.state <> 'resolved'
                     GROUP BY i.agent_id) s
              JOIN escalations_severitylevel l ON l.rank = s.top
             WHERE a.id = s.agent_id
            """
        )
    with connection.cursor() as cursor:
        # What autovacuum does after a bulk load: statistics, and a visibility map so
        # that counts can be answered from the indexes alone.
        for table in (
            "escalations_incident",
            "escalations_decision",
            "trust_agent",
            "center_fleetreviewagent",
            "center_feedback",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    progress("incidents loaded")


def _reviews_and_feedback(cursor, pg, agents, actor, now, rng) -> None:
    """A completed review per tier covering a third of the fleet; feedback on incidents."""
    progress("fleet review coverage and feedback")
    review_ids = {}
    for tier in (1, 2, 3):
        cursor.execute(
            "INSERT INTO center_fleetreview (tier, due_on, cadence, state, findings, "
            "actions_agreed, created_at, completed_at, completed_by_id) "
            "VALUES (%s, %s, %s, 'completed', '', '', %s, %s, %s) RETURNING id",
            [tier, (now - timedelta(days=20)).date(), timedelta(days=30), now, now, actor.pk],
        )
        review_ids[tier] = cursor.fetchone()[0]
    cursor.execute("SELECT id, tier FROM trust_agent WHERE slug LIKE 'bench-%%' ORDER BY id")
    tiers = dict(cursor.fetchall())
    with pg.cursor().copy(
        "COPY center_fleetreviewagent (review_id, agent_id, reviewed_at, reviewed_by_id, note) "
        "FROM STDIN"
    ) as copy:
        for agent_id, _ in agents[::3]:
            reviewed = now - timedelta(days=rng.randint(1, 60))
            copy.write_row((review_ids[tiers[agent_id]], agent_id, reviewed, actor.pk, ""))
    cursor.execute(
        "SELECT i.id, a.team_id FROM escalations_incident i JOIN trust_agent a "
        "ON a.id = i.agent_id ORDER BY i.id DESC LIMIT 20000"
    )
    rows = cursor.fetchall()
    with pg.cursor().copy(
        "COPY center_feedback (subject, incident_id, team_id, useful, credible, comment, "
        "author_id, created_at, updated_at) FROM STDIN"
    ) as copy:
        for incident_id, team_id in rows:
            at = now - timedelta(days=rng.randint(0, 60))
            copy.write_row(
                (
                    "incident",
                    incident_id,
                    team_id,
                    rng.random() < 0.8,
                    rng.random() < 0.85,
                    "",
                    actor.pk,
                    at,
                    at,
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--evaluations", type=int, default=1_000_000)
    parser.add_argument("--incidents", type=int, default=1_000_000)
    args = parser.parse_args()
    setup()
    from bench.fleet import build_fleet

    build_fleet(agents=args.agents, evaluations=args.evaluations)
    build_incidents(count=args.incidents)


if __name__ == "__main__":
    main()
