"""Systemic issues: proposals from shared components and pacts, linking, repeats, decisions."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from atoc.center.choices import SystemicIssueState
from atoc.center.exceptions import NotPermitted, OutOfScope
from atoc.center.models import SystemicIssue, SystemicIssueIncident
from atoc.center.selectors import systemic_issue_ids_for_incidents
from atoc.center.services.issues import (
    systemic_issue_close,
    systemic_issue_confirm,
    systemic_issue_dismiss,
    systemic_issue_link_incidents,
    systemic_issue_merge,
    systemic_issues_propose,
)
from atoc.core.exceptions import InvalidTransition, ValidationFailed
from escalations.api import hooks
from tests.center.support import agent_on, incident
from tests.factories import TeamFactory

SHARED = "model:orion-large"


@pytest.fixture
def fleet(db):
    """Three teams; half of each team's agents on the shared model, half on another."""
    teams = [TeamFactory(name=name) for name in ("Ops", "Payments", "Platform")]
    shared, other = [], []
    for _ in range(2):  # team by team, so any three consecutive agents span three teams
        for team in teams:
            shared.append(agent_on(team, SHARED, "provider:acme"))
            other.append(agent_on(team, "model:orion-small", "provider:acme"))
    return {"teams": teams, "shared": shared, "other": other}


def test_incidents_across_teams_on_a_shared_component_propose_one_issue(fleet, actor):
    opened = [incident(a, actor, hours_ago=5) for a in fleet["shared"][:3]]  # three teams
    incident(fleet["other"][0], actor)  # noise elsewhere

    report = systemic_issues_propose()

    issue = SystemicIssue.objects.get()
    assert report.proposed == [issue.pk]
    assert issue.state == SystemicIssueState.PROPOSED
    assert issue.component.name == SHARED
    assert issue.title == f"Incidents across Ops, Payments and Platform on {SHARED}"
    assert (issue.incident_count, issue.team_count, issue.agent_count) == (3, 3, 3)
    assert set(issue.incident_links.values_list("incident_id", flat=True)) == {i.pk for i in opened}
    # The provider every agent uses explains nothing: no issue for it.
    assert not SystemicIssue.objects.filter(component__name="provider:acme").exists()
    history = issue.history.get()
    assert history.history_change_reason == "Proposed by the systemic issue job"


def test_running_the_job_twice_proposes_and_links_nothing_more(fleet, actor):
    for agent in fleet["shared"][:3]:
        incident(agent, actor)
    systemic_issues_propose()
    report = systemic_issues_propose()
    assert report.proposed == [] and report.linked == 0
    assert SystemicIssue.objects.count() == 1
    assert SystemicIssueIncident.objects.count() == 3


def test_below_the_threshold_or_within_one_team_nothing_is_proposed(fleet, actor):
    ops_shared = [a for a in fleet["shared"] if a.team == fleet["teams"][0]]
    for agent in ops_shared:  # two agents of one team, two incidents each
        incident(agent, actor)
        incident(agent, actor, kind="pact_breach")
    assert systemic_issues_propose().proposed == []  # four incidents but one team
    incident(fleet["shared"][1], actor)  # a second team
    assert len(systemic_issues_propose().proposed) == 1


@override_settings(ATOC_SYSTEMIC_MIN_INCIDENTS=5, ATOC_SYSTEMIC_WINDOW_DAYS=2)
def test_thresholds_come_from_settings(fleet, actor):
    for agent in fleet["shared"][:4]:
        incident(agent, actor)
    incident(fleet["shared"][4], actor, hours_ago=72)  # outside the two-day window
    assert systemic_issues_propose().proposed == []
    incident(fleet["shared"][5], actor)
    assert len(systemic_issues_propose().proposed) == 1


def test_incidents_spread_evenly_over_the_fleet_propose_nothing(fleet, actor):
    for agent in fleet["shared"][:3] + fleet["other"][:3]:
        incident(agent, actor)
    assert systemic_issues_propose().proposed == []


def test_a_shared_pact_across_teams_is_a_basis_too(actor):
    from tests.factories import AgentFactory, PactVersionFactory

    version = PactVersionFactory()
    holders = [AgentFactory(team=TeamFactory(), pact_version=version) for _ in range(3)]
    for _ in range(3):
        AgentFactory(team=TeamFactory())  # other pacts, no incidents
    for agent in holders:
        incident(agent, actor)
    systemic_issues_propose()
    issue = SystemicIssue.objects.get()
    assert issue.basis == "pact" and issue.pact_id == version.pact_id


def test_new_incidents_on_a_confirmed_issue_are_linked_by_the_job(fleet, actor):
    for agent in fleet["shared"][:3]:
        incident(agent, actor)
    systemic_issues_propose()
    issue = systemic_issue_confirm(issue=SystemicIssue.objects.get(), actor=actor)
    later = incident(fleet["shared"][3], actor, kind="pact_breach")

    report = systemic_issues_propose()

    assert report.linked == 1 and report.proposed == []
    link = SystemicIssueIncident.objects.get(incident=later)
    assert link.issue_id == issue.pk and not link.repeat and link.source == "job"
    issue.refresh_from_db()
    assert issue.incident_count == 4
    # The escalations API shows the link through its hook.
    assert hooks.systemic_issues_for([later.pk]) == {later.pk: issue.pk}


def test_an_incident_after_the_issue_was_closed_is_a_repeat_and_reopens_it(fleet, actor):
    for agent in fleet["shared"][:3]:
        incident(agent, actor)
    systemic_issues_propose()
    issue = systemic_issue_confirm(issue=SystemicIssue.objects.get(), actor=actor)
    systemic_issue_close(issue=issue, note="Pinned the previous model version", actor=actor)
    recurrence = incident(fleet["shared"][4], actor, hours_ago=0)

    report = systemic_issues_propose()

    issue.refresh_from_db()
    assert report.reopened == [issue.pk] and report.repeats == 1
    assert issue.state == SystemicIssueState.CONFIRMED and issue.reopened_count == 1
    assert SystemicIssueIncident.objects.get(incident=recurrence).repeat is True
    assert issue.history.first().history_change_reason.startswith("Recurred: incident #")


def test_dismissed_issue_is_proposed_again_only_from_newer_incidents(fleet, actor):
    for agent in fleet["shared"][:3]:
        incident(agent, actor, hours_ago=2)
    systemic_issues_propose()
    issue = SystemicIssue.objects.get()
    systemic_issue_dismiss(issue=issue, reason="Coincidence", actor=actor)
    assert not SystemicIssueIncident.objects.exists()

    assert systemic_issues_propose().proposed == []  # the same old incidents
    for agent in fleet["shared"][3:6]:
        incident(agent, actor, hours_ago=0)
    report = systemic_issues_propose()
    assert len(report.proposed) == 1
    assert SystemicIssue.objects.get(pk=report.proposed[0]).incident_count == 3


def test_merge_moves_incidents_and_later_ones_follow(fleet, actor):
    for agent in fleet["shared"][:3]:
        incident(agent, actor)
    systemic_issues_propose()
    first = SystemicIssue.objects.get()
    pact_issue = SystemicIssue.objects.create(
        title="Pact trouble", basis="pact", pact=fleet["other"][0].pact_version.pact
    )
    systemic_issue_merge(issue=first, into=pact_issue, reason="Same root cause", actor=actor)

    first.refresh_from_db()
    pact_issue.refresh_from_db()
    assert first.state == SystemicIssueState.MERGED and first.merged_into == pact_issue
    assert pact_issue.incident_count == 3
    later = incident(fleet["shared"][3], actor)
    systemic_issues_propose()
    assert SystemicIssueIncident.objects.get(incident=later).issue == pact_issue
    with pytest.raises(InvalidTransition):
        systemic_issue_confirm(issue=first, actor=actor)


def test_dismissing_a_merge_target_does_not_bring_the_merged_incidents_back(fleet, actor):
    for agent in fleet["shared"][:3]:
        incident(agent, actor, hours_ago=2)
    systemic_issues_propose()
    first = SystemicIssue.objects.get()
    pact_issue = SystemicIssue.objects.create(
        title="Pact trouble", basis="pact", pact=fleet["other"][0].pact_version.pact
    )
    systemic_issue_merge(issue=first, into=pact_issue, reason="Same root cause", actor=actor)
    systemic_issue_dismiss(issue=pact_issue, reason="Coincidence after all", actor=actor)

    assert systemic_issues_propose().proposed == []  # the same dismissed incidents
    assert SystemicIssue.objects.count() == 2
    for agent in fleet["shared"][3:6]:
        incident(agent, actor, hours_ago=0)
    report = systemic_issues_propose()
    assert len(report.proposed) == 1
    assert SystemicIssue.objects.get(pk=report.proposed[0]).incident_count == 3


def test_operators_link_incidents_by_hand_and_cannot_steal_them(fleet, actor):
    for agent in fleet["shared"][:3]:
        incident(agent, actor)
    systemic_issues_propose()
    issue = SystemicIssue.objects.get()
    stray = incident(fleet["other"][0], actor)
    assert systemic_issue_link_incidents(issue=issue, incidents=[stray], actor=actor) == 1
    assert systemic_issue_link_incidents(issue=issue, incidents=[stray], actor=actor) == 0
    other = SystemicIssue.objects.create(
        title="Other", basis="component", component=stray.agent.components.first()
    )
    with pytest.raises(InvalidTransition) as info:
        systemic_issue_link_incidents(issue=other, incidents=[stray], actor=actor)
    assert info.value.field == "incidents"
    assert systemic_issue_ids_for_incidents([stray.pk]) == {stray.pk: issue.pk}


def test_transitions_are_checked(fleet, actor):
    issue = SystemicIssue.objects.create(
        title="x", basis="component", component=fleet["shared"][0].components.first()
    )
    assert systemic_issue_confirm(issue=issue, actor=actor).state == "confirmed"
    assert systemic_issue_confirm(issue=issue, actor=actor).state == "confirmed"  # no-op
    with pytest.raises(ValidationFailed) as info:
        systemic_issue_close(issue=issue, note=" ", actor=actor)
    assert info.value.field == "note"
    systemic_issue_close(issue=issue, note="fixed", actor=actor)
    with pytest.raises(InvalidTransition):
        systemic_issue_dismiss(issue=issue, reason="late", actor=actor)
    with pytest.raises(ValidationFailed):
        systemic_issue_merge(issue=issue, into=issue, actor=actor)


def test_a_viewer_cannot_confirm_and_a_team_operator_cannot_decide_fleet_issues(fleet, people):
    issue = SystemicIssue.objects.create(
        title="x", basis="component", component=fleet["shared"][0].components.first()
    )
    with pytest.raises(NotPermitted) as info:
        systemic_issue_confirm(issue=issue, actor=people.viewer)
    assert "center.change_systemicissue" in info.value.message
    with pytest.raises(OutOfScope):
        systemic_issue_confirm(issue=issue, actor=people.team_operator)
    assert (
        systemic_issue_confirm(issue=issue, actor=people.operator).confirmed_by == people.operator
    )
    issue.refresh_from_db()
    assert issue.history.first().history_user == people.operator


def test_issue_windows_use_the_incident_opening_time(fleet, actor):
    now = timezone.now()
    for agent in fleet["shared"][:3]:
        incident(agent, actor, hours_ago=24 * 20)  # three weeks ago
    assert systemic_issues_propose(now=now).proposed == []
    assert len(systemic_issues_propose(now=now - timedelta(days=10)).proposed) == 1
