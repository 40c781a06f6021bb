"""The five metrics, computed in SQL, and the daily snapshot that keeps their history."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from atoc.center import metrics
from atoc.center.models import (
    FleetReview,
    FleetReviewAgent,
    MetricSnapshot,
    SystemicIssue,
    SystemicIssueIncident,
)
from atoc.center.services.feedback import feedback_record
from atoc.center.services.metrics import metrics_snapshot_take
from atoc.core.exceptions import ValidationFailed
from escalations.services.incidents import incident_decide, incident_reroute
from tests.center.support import incident
from tests.factories import AgentFactory, CounterpartFactory, TeamFactory


def by_scope(values, metric):
    return {v.scope: v for v in values if v.metric == metric}


def test_review_coverage_counts_agents_reviewed_within_their_pact_cadence(actor):
    team = TeamFactory(slug="ops")
    recent, stale, _never = (AgentFactory(team=team, tier=1) for _ in range(3))
    AgentFactory(team=team, tier=2)
    AgentFactory(team=team, tier=1, status="retired")
    now = timezone.now()
    review = FleetReview.objects.create(tier=1, due_on=now.date(), cadence=timedelta(days=14))
    FleetReviewAgent.objects.create(review=review, agent=recent, reviewed_by=actor,
                                    reviewed_at=now - timedelta(days=3))  # fmt: skip
    FleetReviewAgent.objects.create(review=review, agent=stale, reviewed_by=actor,
                                    reviewed_at=now - timedelta(days=40))  # fmt: skip

    values = by_scope(metrics.review_coverage(at=now), "review_coverage")

    assert values["tier:1"].value == pytest.approx(1 / 3)
    assert values["tier:1"].details == {"numerator": 1, "denominator": 3}
    assert values["tier:2"].value == 0
    assert values["tier:3"].value is None  # nothing to cover
    assert values["fleet"].value == pytest.approx(1 / 4)
    assert values["team:ops"].count == 4
    # As it stood 30 days ago (agents created since do not count yet).
    assert (
        by_scope(metrics.review_coverage(at=now - timedelta(days=30)), "review_coverage")[
            "fleet"
        ].count
        == 0
    )


def test_time_to_decision_mean_and_percentiles_per_severity_and_team(actor):
    team = TeamFactory(slug="fin")
    agents = [AgentFactory(team=team) for _ in range(4)]
    for agent, hours, severity in zip(
        agents, (1, 2, 3, 10), ("SEV3", "SEV3", "SEV3", "SEV1"), strict=True
    ):
        opened = incident(agent, actor, kind="pact_breach", hours_ago=hours, severity=severity)
        incident_decide(incident=opened, consequence="monitor", rationale="ok", actor=actor)
    now = timezone.now()

    values = by_scope(
        metrics.time_to_decision(start=now - timedelta(days=1), end=now), "time_to_decision"
    )

    sev3 = values["severity:SEV3"]
    assert sev3.count == 3
    assert sev3.value == pytest.approx(2 * 3600, rel=0.01)
    assert sev3.details["p50_seconds"] == pytest.approx(2 * 3600, rel=0.01)
    assert sev3.details["p90_seconds"] == pytest.approx(2.8 * 3600, rel=0.01)
    assert values["fleet"].count == 4 and values["team:fin"].count == 4
    assert values["fleet"].details["p90_seconds"] == pytest.approx(
        metrics.percentile_cont([1, 2, 3, 10], 0.9) * 3600, rel=0.01
    )


def test_percentile_cont_matches_postgresql():
    values = [5.0, 1.0, 3.0, 2.0]
    assert metrics.percentile_cont(values, 0.5) == 2.5
    assert metrics.percentile_cont(values, 0.9) == pytest.approx(4.4)
    assert metrics.percentile_cont([], 0.5) is None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY v) "
                "FROM unnest(ARRAY[5.0, 1.0, 3.0, 2.0]) v"
            )
            assert cursor.fetchone()[0] == pytest.approx(4.4)


def test_routing_accuracy_and_repeat_rate_over_incidents_opened_in_the_window(actor):
    team = TeamFactory(slug="eng")
    first = [incident(AgentFactory(team=team), actor) for _ in range(4)]
    incident_reroute(
        incident=first[0], counterparts=[CounterpartFactory()], reason="wrong team", actor=actor
    )
    issue = SystemicIssue.objects.create(
        title="x", basis="pact", pact=first[1].agent.pact_version.pact
    )
    SystemicIssueIncident.objects.create(
        issue=issue, incident=first[1], agent=first[1].agent, team=team,
        opened_at=first[1].opened_at, repeat=True, source="job", linked_by=actor,
    )  # fmt: skip
    now = timezone.now()

    values = metrics.routing_and_repeats(start=now - timedelta(days=1), end=now)

    routing = by_scope(values, "routing_accuracy")
    repeats = by_scope(values, "repeat_issue_rate")
    assert routing["fleet"].value == 0.75 and routing["team:eng"].count == 4
    assert repeats["fleet"].value == 0.25 and repeats["team:eng"].details["numerator"] == 1


def test_operator_confidence_is_the_share_of_useful_and_credible_feedback(actor):
    team = TeamFactory(slug="ops")
    opened = [incident(AgentFactory(team=team), actor) for _ in range(3)]
    feedback_record(target=opened[0], useful=True, credible=True, actor=actor)
    feedback_record(target=opened[1], useful=True, credible=False, actor=actor)
    feedback_record(target=opened[2], useful=False, credible=True, actor=actor)
    now = timezone.now()

    values = by_scope(
        metrics.operator_confidence(start=now - timedelta(days=1), end=now), "operator_confidence"
    )

    assert values["fleet"].value == pytest.approx(1 / 3)
    assert values["subject:incident"].count == 3
    assert values["team:ops"].details == {"numerator": 1, "denominator": 3}


def test_snapshot_stores_every_metric_and_replaces_the_day(actor, agent):
    incident(agent, actor)
    rows = metrics_snapshot_take()
    assert rows == MetricSnapshot.objects.count()
    assert set(MetricSnapshot.objects.filter(scope="fleet").values_list("metric", flat=True)) == {
        "review_coverage",
        "time_to_decision",
        "routing_accuracy",
        "repeat_issue_rate",
        "operator_confidence",
    }
    assert metrics_snapshot_take() == rows
    assert MetricSnapshot.objects.count() == rows
    day = timezone.now().date() - timedelta(days=7)
    metrics_snapshot_take(day=day)
    assert MetricSnapshot.objects.filter(day=day, scope="fleet").count() == 5


def test_snapshot_refuses_a_future_day_and_a_window_under_a_day(db):
    with pytest.raises(ValidationFailed) as info:
        metrics_snapshot_take(day=timezone.now().date() + timedelta(days=1))
    assert info.value.field == "day"
    with pytest.raises(ValidationFailed) as info:
        metrics_snapshot_take(window_days=-1)
    assert info.value.field == "window_days"


def test_all_metrics_take_a_constant_number_of_queries(actor, django_assert_max_num_queries):
    for _ in range(5):
        incident(AgentFactory(), actor)
    now = timezone.now()
    with django_assert_max_num_queries(10):
        metrics.compute_all(at=now, window=timedelta(days=28))
