"""Fleet reviews: opened on each tier's cadence, agents due, marking, findings, completing."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from atoc.center.exceptions import NotPermitted, OutOfScope
from atoc.center.models import FleetReview, FleetReviewAgent, SystemicIssue
from atoc.center.selectors import agents_evidence, review_agents_due
from atoc.center.services.reviews import (
    fleet_reviews_schedule,
    review_complete,
    review_mark_agents,
    review_record_findings,
)
from atoc.core.exceptions import InvalidTransition, ValidationFailed
from escalations.services.decisions import agent_decide
from tests.factories import AgentFactory, ScoreFactory


def test_schedule_opens_one_review_per_tier_and_twice_opens_nothing(db):
    opened = fleet_reviews_schedule()
    assert sorted(FleetReview.objects.values_list("tier", flat=True)) == [1, 2, 3]
    assert len(opened) == 3
    assert fleet_reviews_schedule() == []
    review = FleetReview.objects.get(tier=1)
    assert review.cadence == timedelta(days=14)
    assert review.history.get().history_change_reason == "Scheduled on the tier's cadence"


@override_settings(ATOC_FLEET_REVIEW_CADENCE_DAYS={1: 7, 2: 30, 3: 90})
def test_the_next_review_comes_one_cadence_after_the_last(actor):
    now = timezone.now()
    fleet_reviews_schedule(now=now)
    for review in FleetReview.objects.all():
        review_complete(review=review, actor=actor)
    assert fleet_reviews_schedule(now=now + timedelta(days=6)) == []
    opened = fleet_reviews_schedule(now=now + timedelta(days=7))
    assert [FleetReview.objects.get(pk=pk).tier for pk in opened] == [1]


def test_agents_due_are_the_tier_not_reviewed_within_their_cadence(actor):
    fleet_reviews_schedule()
    review = FleetReview.objects.get(tier=1)
    due = AgentFactory(tier=1)
    reviewed_elsewhere = AgentFactory(tier=1)
    AgentFactory(tier=2)
    AgentFactory(tier=1, status="retired")
    old = FleetReview.objects.create(tier=1, due_on=timezone.now().date() - timedelta(days=60),
                                     cadence=timedelta(days=14), state="completed",
                                     completed_at=timezone.now())  # fmt: skip
    FleetReviewAgent.objects.create(review=old, agent=reviewed_elsewhere, reviewed_by=actor)
    FleetReviewAgent.objects.create(
        review=old, agent=due, reviewed_by=actor, reviewed_at=timezone.now() - timedelta(days=45)
    )  # longer ago than its pact's 30-day cadence

    slugs = set(review_agents_due(review=review, now=timezone.now()).values_list("slug", flat=True))

    assert slugs == {due.slug}


def test_marking_agents_reviewed_records_who_and_when_once(actor):
    fleet_reviews_schedule()
    review = FleetReview.objects.get(tier=2)
    agents = [AgentFactory(tier=2) for _ in range(2)]
    assert review_mark_agents(review=review, agents=agents, note="ok", actor=actor) == 2
    assert review_mark_agents(review=review, agents=agents, actor=actor) == 0
    row = FleetReviewAgent.objects.filter(review=review).first()
    assert row.reviewed_by == actor and row.note == "ok"
    assert review.history.first().history_change_reason.startswith("Reviewed: ")
    assert not review_agents_due(review=review, now=timezone.now()).exists()


def test_marking_refuses_other_tiers_and_completed_reviews(actor):
    fleet_reviews_schedule()
    review = FleetReview.objects.get(tier=1)
    with pytest.raises(ValidationFailed) as info:
        review_mark_agents(review=review, agents=[AgentFactory(tier=3)], actor=actor)
    assert info.value.field == "agents"
    review_complete(review=review, actor=actor)
    assert review_complete(review=review, actor=actor).state == "completed"  # no-op
    with pytest.raises(InvalidTransition):
        review_mark_agents(review=review, agents=[AgentFactory(tier=1)], actor=actor)


def test_findings_and_systemic_issues_raised_are_recorded_with_history(actor, agent):
    fleet_reviews_schedule()
    review = FleetReview.objects.get(tier=1)
    issue = SystemicIssue.objects.create(title="x", basis="pact", pact=agent.pact_version.pact)
    review_record_findings(
        review=review,
        findings="Failures cluster on one model.",
        actions_agreed="Pin the model.",
        systemic_issues=[issue],
        actor=actor,
    )
    review.refresh_from_db()
    assert review.findings == "Failures cluster on one model."
    assert list(review.systemic_issues.all()) == [issue]
    assert review.history.first().history_user == actor


def test_a_viewer_cannot_review_and_a_team_operator_only_their_teams_agents(people):
    fleet_reviews_schedule()
    review = FleetReview.objects.get(tier=2)
    mine = AgentFactory(tier=2, team=people.own_team)
    theirs = AgentFactory(tier=2, team=people.other_team)
    with pytest.raises(NotPermitted):
        review_mark_agents(review=review, agents=[mine], actor=people.viewer)
    with pytest.raises(OutOfScope) as info:
        review_mark_agents(review=review, agents=[mine, theirs], actor=people.team_operator)
    assert "Finance" in info.value.message and info.value.field == "team"
    assert not FleetReviewAgent.objects.exists()
    assert review_mark_agents(review=review, agents=[mine], actor=people.team_operator) == 1


def test_evidence_for_the_review_page_in_three_queries(actor, django_assert_num_queries):
    agents = [AgentFactory(tier=1) for _ in range(3)]
    for value in (900, 700):
        ScoreFactory(agent=agents[0], value=value)
    agent_decide(agent=agents[0], consequence="suspend", rationale="why", actor=actor)
    with django_assert_num_queries(3):
        evidence = agents_evidence(agents=agents, now=timezone.now())
    assert evidence[agents[0].pk]["scores"] == [900, 700]
    assert evidence[agents[0].pk]["decisions_since_review"] == 1
    assert evidence[agents[1].pk] == {
        "scores": [],
        "last_reviewed_at": None,
        "decisions_since_review": 0,
    }
