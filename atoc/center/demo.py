"""The demo fleet: three teams whose trouble is one fleet-level problem.

Customer operations sees an escalation, finance a disputed settlement, and
engineering stale evaluations — on agents that share one model component, which
the center proposes as one systemic issue. Around it, the center at work: open
incidents at several severities, some acknowledged, some decided and resolved,
climbs of the ladder, a fleet review under way, feedback, and eight weeks of
metric snapshots. Every step is idempotent (natural keys, idempotency keys, or
"only if missing"), so loading twice duplicates nothing.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import models, transaction
from django.utils import timezone

from atoc.center.choices import FleetReviewState
from atoc.center.models import Feedback, FleetReview, FleetReviewAgent, MetricSnapshot
from atoc.center.roles import OPERATOR
from atoc.center.services.feedback import feedback_record
from atoc.center.services.issues import systemic_issues_propose
from atoc.center.services.metrics import metrics_snapshot_take
from atoc.center.services.reviews import (
    fleet_reviews_schedule,
    review_mark_agents,
    review_record_findings,
)
from atoc.core.history import get_system_user
from escalations.choices import IncidentState, SignalKind
from escalations.models import Decision, Escalation, Incident, Signal
from escalations.services.freshness import freshness_check
from escalations.services.incidents import (
    incident_acknowledge,
    incident_decide,
    incident_resolve,
)
from escalations.services.promotion import incidents_promote_overdue
from escalations.services.signals import signal_ingest
from trust.choices import BreachSeverity, Comparator, EvaluatorKind, MetricUnit
from trust.models import Agent, Dispute, Pact, Team
from trust.services.agents import agent_create, team_create
from trust.services.disputes import dispute_open
from trust.services.evaluations import evaluation_submit
from trust.services.pacts import pact_create, pact_version_create

SHARED_MODEL = "model:orion-large"
SLUG_PREFIX = {"customer-operations": "cs", "finance": "fin", "engineering": "eng"}

TEAMS = [
    ("customer-operations", "Customer Operations", "Support, refunds and account changes."),
    ("finance", "Finance", "Payments, reconciliation and settlements."),
    ("engineering", "Engineering", "Code changes, releases and on-call automation."),
]


def _ob(metric, comparator, threshold, unit, severity, days=1, description=""):
    return {
        "metric": metric,
        "comparator": comparator,
        "threshold": threshold,
        "unit": unit,
        "breach_severity": severity,
        "window": timedelta(days=days),
        "description": description,
    }


PACTS = {
    "customer-support": {
        "name": "Customer support conduct",
        "freshness": timedelta(days=3),
        "cadence": timedelta(days=30),
        "obligations": [
            _ob("task_success_rate", Comparator.GTE, 0.9, MetricUnit.RATIO, BreachSeverity.SEV3),
            _ob("policy_violations", Comparator.LTE, 0, MetricUnit.COUNT, BreachSeverity.SEV2),
            _ob("p95_latency_seconds", Comparator.LTE, 8, MetricUnit.SECONDS, BreachSeverity.SEV4),
        ],
    },
    "payments-safety": {
        "name": "Payments safety",
        "freshness": timedelta(days=1),
        "cadence": timedelta(days=14),
        "obligations": [
            _ob("refund_accuracy", Comparator.GTE, 0.98, MetricUnit.RATIO, BreachSeverity.SEV2),
            _ob("unauthorised_payments", Comparator.LTE, 0, MetricUnit.COUNT, BreachSeverity.SEV1),
            _ob(
                "reconciliation_error_rate",
                Comparator.LTE,
                0.01,
                MetricUnit.RATIO,
                BreachSeverity.SEV3,
            ),
        ],
    },
    "code-change-safety": {
        "name": "Code change safety",
        "freshness": timedelta(days=7),
        "cadence": timedelta(days=30),
        "obligations": [
            _ob("tests_pass_rate", Comparator.GTE, 0.95, MetricUnit.RATIO, BreachSeverity.SEV3),
            _ob("revert_rate", Comparator.LTE, 0.05, MetricUnit.RATIO, BreachSeverity.SEV3),
            _ob("secrets_leaked", Comparator.LTE, 0, MetricUnit.COUNT, BreachSeverity.SEV1),
        ],
    },
}

# (team, pact, name stems, other components)
FLEET = [
    (
        "customer-operations",
        "customer-support",
        [
            "refund-assistant",
            "triage-router",
            "account-updater",
            "chat-concierge",
            "returns-helper",
            "order-tracker",
            "complaint-summariser",
            "loyalty-advisor",
            "billing-explainer",
            "callback-scheduler",
            "kyc-checker",
            "survey-analyst",
        ],
        ["tool:refund-api", "prompt:support-base-v3", "provider:acme-ai"],
    ),
    (
        "finance",
        "payments-safety",
        [
            "refund-reconciler",
            "invoice-matcher",
            "payout-approver",
            "fx-hedger",
            "expense-auditor",
            "ledger-closer",
            "dunning-agent",
            "vat-classifier",
            "chargeback-handler",
            "budget-forecaster",
            "vendor-onboarder",
            "cash-sweeper",
        ],
        ["tool:refund-api", "tool:ledger-api", "provider:acme-ai"],
    ),
    (
        "engineering",
        "code-change-safety",
        [
            "pr-reviewer",
            "test-fixer",
            "release-notes",
            "dependency-bumper",
            "incident-summariser",
            "flaky-test-hunter",
            "migration-writer",
            "log-triager",
            "config-auditor",
            "rollback-assistant",
            "doc-updater",
            "security-scanner",
        ],
        ["tool:code-exec", "tool:vector-search", "provider:acme-ai"],
    ),
]


DEMO_OPERATOR = "dana.ops"
DEMO_SOURCE = "demo"
SNAPSHOT_WEEKS = 8

# (agent, kind, hours ago, severity asked for, summary): flags raised by people.
DEMO_SIGNALS = [
    (
        "cs-refund-assistant",
        "incident_flag",
        3,
        None,
        "Customers report refunds issued twice for one return.",
    ),
    ("fin-payout-approver", "incident_flag", 0.7, "SEV1", "A payout left without a 2nd approval."),
    ("fin-dunning-agent", "incident_flag", 20, "SEV3", "Reminders sent for paid invoices."),
    (
        "eng-security-scanner",
        "incident_flag",
        30,
        "SEV2",
        "A vulnerable dependency passed the scan.",
    ),
    ("cs-survey-analyst", "custom", 120, "SEV4", "Survey sentiment scores look off."),
]


@dataclass
class DemoReport:
    teams: int = 0
    agents: int = 0
    evaluations: int = 0
    disputes: int = 0
    incidents: int = 0
    issues: int = 0


def _passing(obligation, rng) -> float:
    """A value that meets the obligation, with some noise."""
    t = obligation.threshold
    if obligation.unit == MetricUnit.COUNT:
        return 0.0
    if obligation.comparator in (Comparator.GTE, Comparator.GT):
        return min(1.0, t + rng.uniform(0.005, 1 - t)) if obligation.unit == "ratio" else t + 1
    return max(0.0, t * rng.uniform(0.2, 0.9))


def _failing(obligation, rng) -> float:
    t = obligation.threshold
    if obligation.unit == MetricUnit.COUNT:
        return float(rng.randint(1, 3))
    if obligation.comparator in (Comparator.GTE, Comparator.GT):
        return max(0.0, t - rng.uniform(0.05, 0.2))
    return t * 1.8 if obligation.unit != "ratio" else min(1.0, t + rng.uniform(0.02, 0.1))


class DemoFleet:
    """Builds the demo fleet; ``log`` receives one progress line per step."""

    def __init__(self, *, log: Callable[[str], None] = print, seed: int = 7):
        self.log = log
        self.rng = random.Random(seed)
        self.actor = get_system_user()
        self.now = timezone.now()
        self.report = DemoReport()

    def build(self) -> DemoReport:
        incidents_before = Incident.objects.count()
        teams = self._teams()
        pacts = self._pacts()
        agents = self._agents(teams, pacts)
        self._evaluations(agents)
        self._disputes(agents)
        operator = self._operator()
        # Evidence above was recorded as it came in; the center works from here on.
        self.now = timezone.now()
        self._incidents(agents, operator)
        self.now = timezone.now()
        self._systemic_issues()
        self._reviews(operator)
        self._feedback(operator)
        self._metrics()
        self.report.incidents = Incident.objects.count() - incidents_before
        return self.report

    def _teams(self) -> dict[str, Team]:
        teams = {}
        for slug, name, description in TEAMS:
            team = Team.objects.filter(slug=slug).first()
            if team is None:
                team = team_create(slug=slug, name=name, description=description, actor=self.actor)
                self.report.teams += 1
            teams[slug] = team
        self.log(f"teams: {len(teams)} ({self.report.teams} new)")
        return teams

    def _pacts(self) -> dict:
        versions = {}
        for slug, spec in PACTS.items():
            pact = Pact.objects.filter(slug=slug).first()
            if pact is None:
                with transaction.atomic():
                    pact = pact_create(slug=slug, name=spec["name"], actor=self.actor)
                    pact_version_create(
                        pact=pact,
                        freshness_window=spec["freshness"],
                        review_cadence=spec["cadence"],
                        obligations=spec["obligations"],
                        publish=True,
                        actor=self.actor,
                    )
            versions[slug] = pact.versions.filter(state="published").order_by("-number").first()
        self.log(f"pacts: {len(versions)}")
        return versions

    def _agents(self, teams, pacts) -> list[Agent]:
        agents, total = [], sum(len(stems) for _, _, stems, _ in FLEET)
        for team_slug, pact_slug, stems, components in FLEET:
            for index, stem in enumerate(stems):
                slug = f"{SLUG_PREFIX[team_slug]}-{stem}"
                agent = Agent.objects.filter(slug=slug).first()
                if agent is None:
                    comps = list(components[:2])
                    if index % 2 == 0:  # half of every team runs on the shared model
                        comps.append(SHARED_MODEL)
                    else:
                        comps.append("model:orion-small")
                    agent = agent_create(
                        slug=slug,
                        name=stem.replace("-", " ").capitalize(),
                        team=teams[team_slug],
                        tier=1 + index % 3,
                        components=comps,
                        pact_version=pacts[pact_slug],
                        description=f"{stem.replace('-', ' ').capitalize()} agent.",
                        actor=self.actor,
                        reason="Demo fleet",
                    )
                    self.report.agents += 1
                agents.append(agent)
            self.log(f"agents: {len(agents)}/{total}")
        return agents

    def _evaluations(self, agents: list[Agent]) -> None:
        """Five weeks of evaluations; trouble concentrated on the shared model."""
        for position, agent in enumerate(agents, start=1):
            if agent.evaluations.exists():
                continue
            version = agent.pact_version
            obligations = list(version.obligations.all())
            shared = agent.components.filter(name=SHARED_MODEL).exists()
            team = agent.team.slug
            # Engineering agents on the shared model stopped being evaluated two weeks ago.
            last_day = 14 if team == "engineering" and shared else 0
            days = [d for d in (34, 27, 20, 13, 6, 0) if d >= last_day] or [last_day]
            if team == "engineering" and shared:
                days = [d + last_day for d in (20, 13, 6)]
            for n, day in enumerate(days):
                completed = self.now - timedelta(days=day, hours=self.rng.randint(1, 10))
                newest = n == len(days) - 1
                # The newest evaluation of customer-ops agents on the shared model fails.
                fail = newest and shared and team == "customer-operations"
                if not newest and self.rng.random() < (0.1 if shared else 0.03):
                    fail = True
                results = []
                for ob in obligations:
                    bad = fail and (ob is obligations[0] or self.rng.random() < 0.4)
                    value = _failing(ob, self.rng) if bad else _passing(ob, self.rng)
                    results.append({"obligation": ob.metric, "value": round(value, 4)})
                evaluation_submit(
                    agent=agent,
                    pact_version=version,
                    evaluator="eval-runner" if n % 2 else "risk-office",
                    evaluator_kind=EvaluatorKind.CODE if n % 2 else EvaluatorKind.HUMAN,
                    independent=not n % 2,
                    suite=f"{version.pact.slug}-regression",
                    started_at=completed - timedelta(minutes=40),
                    completed_at=completed,
                    results=results,
                    evidence_uri=f"s3://atoc-evidence/{agent.slug}/{n}.json",
                    evidence_sha256=f"{self.rng.getrandbits(256):064x}",
                    actor=self.actor,
                    now=completed + timedelta(minutes=1),
                )
                self.report.evaluations += 1
            if position % 6 == 0 or position == len(agents):
                self.log(f"evaluations: agents {position}/{len(agents)}")

    def _disputes(self, agents: list[Agent]) -> None:
        by_slug = {a.slug: a for a in agents}
        specs = [
            (
                "STL-2026-0412",
                "fin-refund-reconciler",
                "Northwind Traders",
                "48250.00",
                "EUR",
                "Refunds issued twice for one batch of returns; the merchant disputes the "
                "clawback.",
            ),
            (
                "STL-2026-0398",
                "fin-chargeback-handler",
                "Globex Retail",
                "3120.50",
                "USD",
                "Chargeback evidence filed late.",
            ),
        ]
        for reference, slug, counterparty, amount, currency, description in specs:
            if Dispute.objects.filter(reference=reference).exists() or slug not in by_slug:
                continue
            dispute_open(
                agent=by_slug[slug],
                reference=reference,
                counterparty=counterparty,
                amount=amount,
                currency=currency,
                description=description,
                actor=self.actor,
                opened_at=self.now - timedelta(days=2),
            )
            self.report.disputes += 1
        self.log(f"disputes: {Dispute.objects.count()} ({self.report.disputes} new)")

    # --- the center at work --------------------------------------------------------

    def _operator(self):
        """The demo's operator (no password: nobody logs in as them)."""
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=DEMO_OPERATOR,
            defaults={"first_name": "Dana", "last_name": "Ops", "is_staff": True},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        group = Group.objects.filter(name=OPERATOR).first()
        if group is not None:
            user.groups.add(group)
        return user

    def _incidents(self, agents: list[Agent], operator) -> None:
        """Freshness signals, a customer-ops escalation, and incidents handled at each stage."""
        by_slug = {a.slug: a for a in agents}
        freshness_check(now=self.now)

        # Flags raised over the last days; nobody acknowledged them in time.
        for slug, kind, hours_ago, severity, summary in DEMO_SIGNALS:
            if Signal.objects.filter(
                source=DEMO_SOURCE, idempotency_key=slug + ":" + kind
            ).exists():
                continue
            at = self.now - timedelta(hours=hours_ago)
            signal_ingest(
                agent=by_slug[slug],
                kind=kind,
                observed_at=at,
                source=DEMO_SOURCE,
                idempotency_key=slug + ":" + kind,
                payload={"summary": summary},
                severity=severity,
                actor=self.actor,
                now=at,
            )
        escalated = Incident.objects.filter(
            agent__slug="cs-refund-assistant", kind=SignalKind.INCIDENT_FLAG
        ).first()
        if escalated is not None and not Escalation.objects.filter(incident=escalated).exists():
            # The ladder climbed while nobody acted (a SEV1 restricts the agent).
            incidents_promote_overdue(now=self.now - timedelta(hours=2))

        unresolved = {
            (i.agent.slug, i.kind): i
            for i in Incident.objects.exclude(state=IncidentState.RESOLVED).select_related("agent")
        }

        def handle(slug, kind, *, acknowledge=False, decide=None, resolve=False, why=""):
            incident = unresolved.get((slug, kind))
            if incident is None:
                return
            if acknowledge and incident.state == IncidentState.OPEN:
                incident_acknowledge(incident=incident, actor=operator, note=why)
            if decide and incident.state in (IncidentState.OPEN, IncidentState.ACKNOWLEDGED):
                incident_decide(
                    incident=incident, consequence=decide, rationale=why, actor=operator
                )
            if resolve:
                incident.refresh_from_db()
                if incident.state == IncidentState.DECIDED:
                    incident_resolve(incident=incident, actor=operator, note="Handled")

        # Finance: the disputed settlement is decided, the chargeback acknowledged.
        handle(
            "fin-refund-reconciler",
            SignalKind.SETTLEMENT_DISPUTE,
            decide="restrict_autonomy",
            why="Refunds issued twice for one batch; a human approves refunds until the "
            "settlement with Northwind is reconciled.",
        )
        handle(
            "fin-chargeback-handler",
            SignalKind.SETTLEMENT_DISPUTE,
            acknowledge=True,
            why="Finance is collecting the chargeback evidence.",
        )
        handle("fin-dunning-agent", SignalKind.INCIDENT_FLAG, acknowledge=True, why="On it")
        handle("cs-kyc-checker", SignalKind.PACT_BREACH, acknowledge=True, why="Looking into it")
        handle(
            "eng-security-scanner",
            SignalKind.INCIDENT_FLAG,
            decide="require_review",
            resolve=True,
            why="Missed a vulnerable dependency; the scanner goes through review before it "
            "gates releases again.",
        )
        handle(
            "cs-survey-analyst",
            SignalKind.CUSTOM,
            decide="monitor",
            resolve=True,
            why="Sentiment scores drifted after a survey change, not the agent.",
        )
        # Noise on agents off the shared model: watched, then closed.
        for agent in agents:
            if agent.components.filter(name=SHARED_MODEL).exists():
                continue
            for kind in (SignalKind.SCORE_DROP, SignalKind.PACT_BREACH):
                handle(
                    agent.slug,
                    kind,
                    decide="monitor",
                    resolve=True,
                    why="A one-off dip; the next evaluations passed.",
                )
        counts = dict(
            Incident.objects.values_list("state").annotate(n=models.Count("id")).order_by()
        )
        self.log(
            "incidents: "
            + ", ".join(f"{counts.get(state, 0)} {state}" for state in IncidentState.values)
        )

    def _systemic_issues(self) -> None:
        report = systemic_issues_propose(now=self.now, actor=self.actor)
        self.report.issues = len(report.proposed)
        from atoc.center.models import SystemicIssue

        for issue in SystemicIssue.objects.filter(state__in=["proposed", "confirmed"]):
            self.log(f"systemic issue #{issue.pk} ({issue.state}): {issue.title}")

    def _reviews(self, operator) -> None:
        """The tier-1 review under way: customer operations covered, findings recorded."""
        fleet_reviews_schedule(now=self.now)
        review = FleetReview.objects.filter(tier=1, state=FleetReviewState.OPEN).first()
        if review is None or FleetReviewAgent.objects.filter(review=review).exists():
            return
        agents = Agent.objects.filter(tier=1, team__slug="customer-operations").order_by("slug")
        review_mark_agents(
            review=review,
            agents=list(agents[:3]),
            note="Evidence current; refunds flow re-tested.",
            actor=operator,
        )
        from atoc.center.models import SystemicIssue

        review_record_findings(
            review=review,
            findings="Failures cluster on agents built on model:orion-large, in three teams.",
            actions_agreed="Platform to pin the previous model version; engineering to restore "
            "the evaluation schedule.",
            systemic_issues=SystemicIssue.objects.filter(component__name=SHARED_MODEL),
            actor=operator,
        )
        self.log(f"fleet review: {review} under way")

    def _feedback(self, operator) -> None:
        decision = Decision.objects.filter(agent__slug="fin-refund-reconciler").first()
        if decision is not None:
            feedback_record(
                target=decision,
                useful=True,
                credible=True,
                comment="Restricting refunds stopped the bleeding.",
                actor=operator,
            )
        escalated = Incident.objects.filter(
            agent__slug="cs-refund-assistant", kind=SignalKind.INCIDENT_FLAG
        ).first()
        if escalated is not None:
            feedback_record(
                target=escalated,
                useful=False,
                credible=True,
                comment="Climbed to SEV1 before anyone in customer operations saw it.",
                actor=operator,
            )
        review = FleetReview.objects.filter(tier=1).first()
        if review is not None:
            feedback_record(target=review, useful=True, credible=True, actor=operator)
        self.log(f"feedback: {Feedback.objects.count()} ratings")

    def _metrics(self) -> None:
        """Today's snapshot and one per week before it, rebuilt from the data as it stood."""
        self.now = timezone.now()
        today = self.now.date()
        for weeks in range(SNAPSHOT_WEEKS, 0, -1):
            metrics_snapshot_take(day=today - timedelta(weeks=weeks), now=self.now)
        metrics_snapshot_take(day=today, now=self.now)
        self.log(f"metric snapshots: {MetricSnapshot.objects.count()} values")
