from django.core.management import call_command
from django.db.models import Count, F

from atoc.center.models import (
    Feedback,
    FleetReview,
    FleetReviewAgent,
    MetricSnapshot,
    SystemicIssue,
    SystemicIssueIncident,
)
from escalations.models import Decision, Escalation, Incident, Signal
from trust.models import Agent, Dispute, Evaluation, Score, Team


def _counts():
    return {
        "teams": Team.objects.count(),
        "agents": Agent.objects.count(),
        "evaluations": Evaluation.objects.count(),
        "scores": Score.objects.count(),
        "disputes": Dispute.objects.count(),
        "signals": Signal.objects.count(),
        "incidents": Incident.objects.count(),
        "escalations": Escalation.objects.count(),
        "decisions": Decision.objects.count(),
        "issues": SystemicIssue.objects.count(),
        "links": SystemicIssueIncident.objects.count(),
        "reviews": FleetReview.objects.count(),
        "reviewed": FleetReviewAgent.objects.count(),
        "feedback": Feedback.objects.count(),
        "snapshots": MetricSnapshot.objects.count(),
    }


def test_demo_fleet_builds_the_seed_scenario(db):
    call_command("demo_fleet", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert set(Team.objects.values_list("slug", flat=True)) == {
        "customer-operations",
        "finance",
        "engineering",
    }
    assert Agent.objects.count() >= 30
    assert set(Agent.objects.values_list("tier", flat=True)) == {1, 2, 3}
    shared = Agent.objects.filter(components__name="model:orion-large")
    assert shared.values("team").distinct().count() == 3
    # Engineering agents on the shared model have stale evidence.
    stale = [a for a in shared.filter(team__slug="engineering") if a.is_stale()]
    assert stale
    # Some evaluations fail, and the score history shows a drop.
    assert Evaluation.objects.filter(verdict="fail").exists()
    assert (
        Score.objects.filter(previous_value__gt=0).extra(where=["value < previous_value"]).exists()
    )
    assert Dispute.objects.filter(state="open", agent__team__slug="finance").exists()
    # Every evaluation reports on every obligation of its pact version.
    partial = Evaluation.objects.annotate(
        reported=Count("results", distinct=True),
        owed=Count("pact_version__obligations", distinct=True),
    ).exclude(reported=F("owed"))
    assert not partial.exists()


def test_demo_fleet_twice_duplicates_nothing(db):
    call_command("demo_fleet", stdout=open("/dev/null", "w"))  # noqa: SIM115
    first = _counts()
    call_command("demo_fleet", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert _counts() == first


def test_demo_fleet_shows_the_center_at_work(db):
    call_command("demo_fleet", stdout=open("/dev/null", "w"))  # noqa: SIM115

    # One systemic issue: the shared model, across customer ops, finance and engineering.
    issue = SystemicIssue.objects.get()
    assert issue.state == "proposed" and issue.component.name == "model:orion-large"
    teams = set(issue.incident_links.values_list("team__slug", flat=True))
    assert teams == {"customer-operations", "finance", "engineering"}
    kinds = set(issue.incident_links.values_list("incident__kind", flat=True))
    assert {"incident_flag", "settlement_dispute", "evaluation_stale"} <= kinds
    # Open incidents at several severities and at every stage, with climbs of the ladder.
    open_levels = set(
        Incident.objects.exclude(state="resolved").values_list("severity__name", flat=True)
    )
    assert len(open_levels) >= 3
    states = set(Incident.objects.values_list("state", flat=True))
    assert {"open", "acknowledged", "decided", "resolved"} <= states
    escalated = Incident.objects.get(agent__slug="cs-refund-assistant", kind="incident_flag")
    assert escalated.escalations.exists() and escalated.severity.name == "SEV1"
    assert Agent.objects.get(slug="cs-refund-assistant").status == "restricted"
    assert Decision.objects.filter(agent__slug="fin-refund-reconciler").exists()
    # The tier-1 review is under way, feedback given, and the metrics have history.
    assert FleetReviewAgent.objects.exists()
    assert Feedback.objects.count() >= 2
    assert MetricSnapshot.objects.values("day").distinct().count() == 9
