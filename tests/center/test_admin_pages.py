"""The center's admin pages as operators see them, and what each role may do there."""

import re
from datetime import timedelta
from html import unescape

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from atoc.center import metrics
from atoc.center.admin import reviews as reviews_admin
from atoc.center.models import FleetReview, FleetReviewAgent, SystemicIssue
from atoc.center.services.issues import systemic_issues_propose
from atoc.center.services.metrics import metrics_snapshot_take
from atoc.center.services.reviews import fleet_reviews_schedule
from escalations.models import Counterpart, Decision, Incident
from escalations.services.incidents import incident_acknowledge
from escalations.services.jobs import job_heartbeat_finish, job_heartbeat_start
from tests.center.support import agent_on, incident
from tests.factories import AgentFactory, ScoreFactory, TeamFactory
from trust.models import Agent


def body(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def act(client, model_url, action, rows, **data):
    return client.post(
        model_url,
        {"action": action, "_selected_action": [row.pk for row in rows], **data},
        follow=True,
    )


# --- the fleet trust picture -------------------------------------------------------------


def test_index_shows_counts_queue_teams_and_the_three_fields(admin_client, actor):
    ops = TeamFactory(name="Customer Operations")
    late = incident(AgentFactory(team=ops, slug="refund-bot"), actor, hours_ago=3)
    waiting = incident(
        AgentFactory(team=ops, slug="kyc-bot"), actor, kind="pact_breach", hours_ago=0.1
    )
    incident_acknowledge(incident=waiting, actor=actor)
    AgentFactory(team=ops, slug="stale-bot", evaluation_due_at=timezone.now() - timedelta(days=2))

    page = text(body(admin_client.get(reverse("admin:index"))))

    assert "Incidents by severity and action state (2 unresolved)" in page
    assert "1 overdue — open the overdue queue" in page
    queue = page[page.index("Needs action first") : page.index("Teams Team")]
    assert queue.index(f"#{late.pk}") < queue.index(f"#{waiting.pk}")  # overdue first
    assert "acknowledgement overdue by" in queue and "decision due in" in queue
    assert "no evidence yet (due in 7 d)" in queue  # freshness on every incident row
    assert late.severity.name in queue and "Open (awaiting acknowledgement)" in queue
    stale = page[page.index("Agents with stale evidence") :]
    assert "stale-bot" in stale and "stale for 2" in stale and "nothing awaits" in stale
    assert "Customer Operations" in page


def test_index_warns_when_the_jobs_have_not_run_and_not_once_they_do(admin_client):
    # Just installed: the scheduler has not had two intervals to run anything yet.
    PeriodicTask.objects.update(start_time=timezone.now())
    assert 'id="jobs-warning"' not in body(admin_client.get(reverse("admin:index")))

    PeriodicTask.objects.update(start_time=timezone.now() - timedelta(hours=1))
    page = body(admin_client.get(reverse("admin:index")))
    assert 'id="jobs-warning"' in page and "never run" in page

    from atoc.center.schedules import CENTER_JOBS
    from escalations.schedules import PERIODIC_JOBS

    for job in (*PERIODIC_JOBS, *CENTER_JOBS):
        job_heartbeat_start(job=job.task)
        job_heartbeat_finish(job=job.task, result={})
    assert 'id="jobs-warning"' not in body(admin_client.get(reverse("admin:index")))

    long_ago = timezone.now() - timedelta(hours=1)
    job_heartbeat_start(job="escalations.promote_overdue", now=long_ago)
    page = body(admin_client.get(reverse("admin:index")))
    assert "The scheduler or the workers are down: promotion last ran" in page


def test_index_warns_when_a_job_has_no_enabled_schedule(admin_client):
    from atoc.center.schedules import CENTER_JOBS
    from escalations.schedules import PERIODIC_JOBS

    for job in (*PERIODIC_JOBS, *CENTER_JOBS):
        job_heartbeat_start(job=job.task)
        job_heartbeat_finish(job=job.task, result={})
    assert 'id="jobs-warning"' not in body(admin_client.get(reverse("admin:index")))

    PeriodicTask.objects.filter(task="escalations.promote_overdue").update(enabled=False)
    page = text(body(admin_client.get(reverse("admin:index"))))
    assert "Not scheduled (no enabled periodic task): promote overdue incidents" in page


def test_each_severity_total_opens_the_same_unresolved_incidents(admin_client, actor):
    agent = AgentFactory()
    unresolved = incident(agent, actor, kind="pact_breach")
    resolved = incident(AgentFactory(), actor, kind="pact_breach")
    Incident.objects.filter(pk=resolved.pk).update(state="resolved", resolved_at=timezone.now())

    index = unescape(body(admin_client.get(reverse("admin:index"))))
    level = unresolved.severity
    link = re.search(rf'href="([^"]*severity__id__exact={level.pk}[^"]*)">1<', index)
    assert link, "the severity total links to its incidents"
    listed = body(admin_client.get(link.group(1)))
    assert f"/{unresolved.pk}/change/" in listed and f"/{resolved.pk}/change/" not in listed


def test_index_tiles_read_the_snapshots_with_a_trend(admin_client, actor):
    incident(AgentFactory(), actor)
    for weeks in (3, 2, 1):
        metrics_snapshot_take(day=timezone.now().date() - timedelta(weeks=weeks))
    metrics_snapshot_take()
    page = body(admin_client.get(reverse("admin:index")))
    tiles = page[page.index('id="metric-tiles"') : page.index('id="incident-matrix"')]
    assert "Escalation routing accuracy" in tiles and "100 %" in tiles
    assert tiles.count("<polyline") >= 1 and 'class="sparkline"' in tiles


def test_index_shows_systemic_issues_reviews_and_disputes_by_currency(admin_client, actor):
    teams = [TeamFactory() for _ in range(3)]
    for team in teams:
        incident(agent_on(team, "model:shared"), actor)
        agent_on(team, "model:other")
    systemic_issues_propose()
    fleet_reviews_schedule()
    from tests.factories import DisputeFactory

    DisputeFactory(agent=AgentFactory(team=teams[0]), amount="100.00", currency="EUR")
    DisputeFactory(agent=AgentFactory(team=teams[0]), amount="50.50", currency="EUR")
    page = text(body(admin_client.get(reverse("admin:index"))))
    assert "model:shared" in page and "Proposed (awaiting an operator)" in page
    assert "Tier 1 review due" in page
    assert "150.50 EUR (2)" in page


def test_index_query_count_is_bounded_with_a_busy_fleet(
    admin_client, actor, django_assert_max_num_queries
):
    for _ in range(15):
        agent = AgentFactory(
            evaluation_due_at=timezone.now() - timedelta(days=1), status="restricted"
        )
        incident(agent, actor)
    metrics_snapshot_take()
    with django_assert_max_num_queries(25):
        body(admin_client.get(reverse("admin:index")))


# --- the agent page ----------------------------------------------------------------


def story_url(agent):
    return reverse("admin:center_agent_story", args=[agent.pk])


def test_agent_story_shows_state_pact_scores_incidents_and_history(admin_client, actor, agent):
    for value in (900, 650):
        ScoreFactory(agent=agent, value=value)
    opened = incident(agent, actor, hours_ago=3)
    from escalations.services.promotion import incidents_promote_overdue

    incidents_promote_overdue(now=timezone.now())
    page = body(admin_client.get(story_url(agent)))
    readable = text(page)
    assert f"Trust story of {agent.slug}" in readable
    # SEV1 restricted it on the way up the ladder.
    assert "Restricted" in readable and "Human in the loop" in readable and "Live" in readable
    assert str(agent.pact_version) in readable
    assert "<polyline" in page  # the score chart
    assert f"#{opened.pk}" in readable and "Acknowledgement deadline passed" in readable
    assert "no evidence yet (due in" in readable and "SEV1" in readable
    assert "Restrict autonomy" in readable and "Suspend" in readable and "Restore" in readable
    changelist = body(admin_client.get(reverse("admin:trust_agent_changelist")))
    assert story_url(agent) in changelist
    change = body(admin_client.get(reverse("admin:trust_agent_change", args=[agent.pk])))
    assert story_url(agent) in change


def test_agent_story_action_records_a_decision_and_shows_the_history(
    admin_client, admin_user, agent
):
    response = admin_client.post(
        story_url(agent), {"action": "suspend", "rationale": "Leaked a refund token"}, follow=True
    )
    page = text(body(response))
    assert f"Suspend: {agent.slug} is now suspended" in page
    agent.refresh_from_db()
    assert agent.status == "suspended"
    decision = Decision.objects.get(agent=agent)
    assert decision.actor == admin_user and decision.incident is None
    assert "Leaked a refund token" in page and "on the agent" in page
    history = page[page.index("History (newest first)") :]
    assert "root-admin" in history and "suspended" in history


def test_agent_story_refuses_a_viewer_and_a_team_operator_outside_their_team(client, people):
    theirs = AgentFactory(team=people.other_team)
    people.viewer.is_staff = True
    people.viewer.save()
    client.force_login(people.viewer)
    page = body(client.get(story_url(theirs)))
    assert "Decide on the agent" not in page  # no forms for a viewer
    response = client.post(story_url(theirs), {"action": "suspend", "rationale": "x"}, follow=True)
    assert response.status_code == 200
    theirs.refresh_from_db()
    assert theirs.status == "active"
    client.force_login(people.team_operator)
    response = client.post(story_url(theirs), {"action": "suspend", "rationale": "x"}, follow=True)
    assert "outside your teams" in text(body(response))
    theirs.refresh_from_db()
    assert theirs.status == "active"


def test_agent_story_costs_the_same_queries_for_a_long_story(
    admin_client, actor, agent, django_assert_max_num_queries
):
    incident(agent, actor, kind="settlement_dispute")
    ScoreFactory(agent=agent, value=400)
    with django_assert_max_num_queries(30) as few:
        body(admin_client.get(story_url(agent)))
    for kind in ("pact_breach", "score_drop", "incident_flag", "custom"):
        incident(agent, actor, kind=kind)
    for value in range(20):
        ScoreFactory(agent=agent, value=500 + value)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body(admin_client.get(story_url(agent)))


def test_agent_changelist_actions_restrict_through_a_rationale_form(admin_client, agent):
    url = reverse("admin:trust_agent_changelist")
    form = body(act(admin_client, url, "restrict_selected", [agent]))
    assert "Each agent gets a Decision with your rationale" in form
    page = text(
        body(act(admin_client, url, "restrict_selected", [agent], apply="yes", rationale="Drifted"))
    )
    assert f"Restrict autonomy: {agent.slug}." in page
    agent.refresh_from_db()
    assert agent.status == "restricted"


def agent_rows(page: str) -> dict[str, str]:
    """The agent changelist's rows as readable text, by agent slug."""
    rows = {}
    for row in page.split("<tr")[1:]:
        row = row.split("</tr>")[0]
        found = re.search(r'<td class="field-slug">([^<]+)</td>', row)
        if found:
            rows[found.group(1)] = text(row)
    return rows


@time_machine.travel(timezone.now(), tick=False)
def test_agent_changelist_and_page_say_what_each_agents_incidents_await(admin_client, actor):
    late = AgentFactory(slug="refund-bot")
    overdue = incident(late, actor, hours_ago=2.25)  # SEV2: acknowledgement due 2 h ago
    incident(late, actor, kind="pact_breach", hours_ago=0)  # SEV3: due in 1 h
    deciding = AgentFactory(slug="kyc-bot")
    incident_acknowledge(incident=incident(deciding, actor, kind="pact_breach"), actor=actor)
    AgentFactory(slug="quiet-bot")
    url = reverse("admin:trust_agent_changelist")

    rows = agent_rows(body(admin_client.get(url)))

    refund = rows["refund-bot"]
    assert f"acknowledgement overdue by 2 h ( #{overdue.pk} , 1 more unresolved)" in refund
    assert "SEV2" in refund and "no evidence yet" in refund  # severity and freshness
    assert "decision due in 1 d" in rows["kyc-bot"]
    assert "nothing awaits" in rows["quiet-bot"]
    change = text(body(admin_client.get(reverse("admin:trust_agent_change", args=[late.pk]))))
    assert "Action state: acknowledgement overdue by 2 h" in change.replace(" :", ":")
    form = text(body(act(admin_client, url, "restrict_selected", [deciding])))
    assert "Action state" in form and "decision due in 1 d" in form


def _agents_with_incidents(count: int, actor) -> None:
    """``count`` agents on their own teams, their incidents open, acknowledged or decided."""
    for index in range(count):
        agent = AgentFactory(team=TeamFactory())
        opened = incident(agent, actor, hours_ago=index % 3)
        if index % 3 == 1:
            incident_acknowledge(incident=opened, actor=actor)
        elif index % 3 == 2:
            incident(agent, actor, kind="pact_breach", hours_ago=0.5)


def test_agent_changelist_costs_the_same_queries_for_1_or_20_agents(
    admin_client, actor, django_assert_max_num_queries
):
    url = reverse("admin:trust_agent_changelist")
    _agents_with_incidents(1, actor)
    body(admin_client.get(url))  # warm per-process caches (content types, session)
    with django_assert_max_num_queries(40) as one:
        body(admin_client.get(url))
    _agents_with_incidents(19, actor)

    with django_assert_max_num_queries(len(one.captured_queries)):
        response = admin_client.get(url)

    assert len(response.context["cl"].result_list) == 20
    assert body(response).count("acknowledgement") >= 13


# --- incidents, systemic issues, reviews, metrics -------------------------------------


def test_a_team_operator_cannot_acknowledge_another_teams_incident(client, people, actor):
    mine = incident(AgentFactory(team=people.own_team), actor)
    theirs = incident(AgentFactory(team=people.other_team), actor)
    client.force_login(people.team_operator)
    url = reverse("admin:escalations_incident_changelist")
    page = text(body(act(client, url, "acknowledge_selected", [mine, theirs])))
    assert f"Not done on rows outside your teams: #{theirs.pk}" in page
    states = dict(Incident.objects.values_list("pk", "state"))
    assert states == {mine.pk: "acknowledged", theirs.pk: "open"}


def test_a_viewer_sees_incidents_but_has_no_actions(client, people, actor):
    opened = incident(AgentFactory(), actor)
    client.force_login(people.viewer)
    url = reverse("admin:escalations_incident_changelist")
    response = client.get(url)
    assert response.status_code == 200 and f"#{opened.pk}" in body(response)
    assert response.context["action_form"] is None or not [
        name for name, _ in response.context["action_form"].fields["action"].choices if name
    ]
    act(client, url, "acknowledge_selected", [opened])
    opened.refresh_from_db()
    assert opened.state == "open"


def test_the_incident_page_holds_viewers_and_team_operators_to_their_rights(client, people, actor):
    theirs = incident(AgentFactory(team=people.other_team), actor)
    mine = incident(AgentFactory(team=people.own_team), actor)
    page = lambda row: reverse("admin:escalations_incident_change", args=[row.pk])  # noqa: E731

    client.force_login(people.viewer)
    response = client.get(page(theirs))
    assert response.status_code == 200 and response.context["incident_actions"] == []
    client.post(page(theirs), {"action": "acknowledge_selected"})

    client.force_login(people.team_operator)
    assert client.get(page(theirs)).context["incident_actions"] == []
    assert client.get(page(mine)).context["incident_actions"]
    refused = client.post(page(theirs), {"action": "acknowledge_selected"}, follow=True)
    assert f"Not done on rows outside your teams: #{theirs.pk}" in text(body(refused))
    client.post(page(mine), {"action": "acknowledge_selected"})

    states = dict(Incident.objects.values_list("pk", "state"))
    assert states == {theirs.pk: "open", mine.pk: "acknowledged"}


def test_a_team_operator_reroutes_only_their_teams_incidents(client, people, actor):
    mine = incident(AgentFactory(team=people.own_team), actor)
    theirs = incident(AgentFactory(team=people.other_team), actor)
    security = Counterpart.objects.get(function="security")
    change = lambda row: reverse("admin:escalations_incident_change", args=[row.pk])  # noqa: E731
    url = reverse("admin:escalations_incident_changelist")
    client.force_login(people.team_operator)

    assert "reroute_selected" not in dict(client.get(change(theirs)).context["incident_actions"])
    assert "reroute_selected" in dict(client.get(change(mine)).context["incident_actions"])
    data = {"apply": "yes", "counterparts": [security.pk], "reason": "Security's to handle"}
    listed = text(body(act(client, url, "reroute_selected", [mine, theirs], **data)))
    assert f"Not done on rows outside your teams: #{theirs.pk}" in listed
    assert f"Rerouted to {security.name}: #{mine.pk}." in listed
    refused = client.post(change(theirs), {"action": "reroute_selected", **data}, follow=True)
    assert f"Not done on rows outside your teams: #{theirs.pk}" in text(body(refused))

    assert dict(Incident.objects.values_list("pk", "rerouted")) == {
        mine.pk: True,
        theirs.pk: False,
    }
    assert list(theirs.counterparts.all()) != [security]
    assert not theirs.timeline.filter(kind="REROUTED").exists()


def test_a_viewer_cannot_reroute_an_incident(client, people, actor):
    opened = incident(AgentFactory(), actor)
    routed = sorted(opened.counterparts.values_list("pk", flat=True))
    security = Counterpart.objects.get(function="security")
    data = {"apply": "yes", "counterparts": [security.pk], "reason": "Security's to handle"}
    client.force_login(people.viewer)

    act(
        client,
        reverse("admin:escalations_incident_changelist"),
        "reroute_selected",
        [opened],
        **data,
    )
    change = reverse("admin:escalations_incident_change", args=[opened.pk])
    client.post(change, {"action": "reroute_selected", **data})

    opened.refresh_from_db()
    assert not opened.rerouted
    assert sorted(opened.counterparts.values_list("pk", flat=True)) == routed


def test_a_reroute_from_the_admin_lowers_routing_accuracy(admin_client, actor, agent):
    kept, misrouted = incident(agent, actor), incident(AgentFactory(), actor)
    now = timezone.now()

    def accuracy():
        values = metrics.routing_and_repeats(start=now - timedelta(days=1), end=timezone.now())
        return next(v for v in values if v.metric == "routing_accuracy" and v.scope == "fleet")

    assert accuracy().value == 1.0
    security = Counterpart.objects.get(function="security")
    act(
        admin_client,
        reverse("admin:escalations_incident_changelist"),
        "reroute_selected",
        [misrouted],
        apply="yes",
        counterparts=[security.pk],
        reason="Security's to handle",
    )

    fleet = accuracy()
    assert fleet.value == 0.5 and fleet.details == {"numerator": 1, "denominator": 2}
    kept.refresh_from_db()
    assert not kept.rerouted


def test_link_incidents_to_a_systemic_issue_from_the_incident_list(admin_client, actor, agent):
    opened = incident(agent, actor)
    issue = SystemicIssue.objects.create(title="Shared", basis="pact", pact=agent.pact_version.pact)
    url = reverse("admin:escalations_incident_changelist")
    assert "Systemic issue" in body(
        act(admin_client, url, "link_to_systemic_issue_selected", [opened])
    )
    page = text(
        body(
            act(
                admin_client,
                url,
                "link_to_systemic_issue_selected",
                [opened],
                apply="yes",
                issue=issue.pk,
            )
        )
    )
    assert f"Linked 1 incident(s) to systemic issue #{issue.pk}" in page
    assert issue.incident_links.get().incident == opened


def test_confirm_a_proposed_issue_from_its_list_and_see_its_incidents(
    admin_client, admin_user, actor
):
    teams = [TeamFactory() for _ in range(3)]
    for team in teams:
        incident(agent_on(team, "model:shared"), actor)
        agent_on(team, "model:other")
    systemic_issues_propose()
    issue = SystemicIssue.objects.get()
    url = reverse("admin:center_systemicissue_changelist")
    page = text(body(act(admin_client, url, "confirm_selected", [issue])))
    assert f"Confirmed: #{issue.pk}." in page
    issue.refresh_from_db()
    assert issue.state == "confirmed" and issue.confirmed_by == admin_user
    change = text(
        body(admin_client.get(reverse("admin:center_systemicissue_change", args=[issue.pk])))
    )
    assert "3 incidents on 3 agents of 3 teams" in change
    assert "no evidence yet (due in" in change and "Open (awaiting acknowledgement)" in change


def test_dismiss_and_merge_ask_for_input_first(admin_client, agent):
    a = SystemicIssue.objects.create(title="A", basis="pact", pact=agent.pact_version.pact)
    component = agent_on(agent.team, "model:b").components.get()
    b = SystemicIssue.objects.create(title="B", basis="component", component=component)
    url = reverse("admin:center_systemicissue_changelist")
    assert "Merge into" in body(act(admin_client, url, "merge_selected", [a]))
    page = text(body(act(admin_client, url, "merge_selected", [a], apply="yes", into=b.pk)))
    assert f"Merged into #{b.pk}: #{a.pk}." in page
    body(act(admin_client, url, "dismiss_selected", [b], apply="yes", reason="Noise"))
    b.refresh_from_db()
    assert b.state == "dismissed"


def test_review_page_lists_agents_due_with_evidence_and_marks_them(admin_client, admin_user):
    fleet_reviews_schedule()
    review = FleetReview.objects.get(tier=1)
    due = AgentFactory(tier=1, slug="due-bot")
    ScoreFactory(agent=due, value=810)
    url = reverse("admin:center_fleetreview_review", args=[review.pk])
    page = text(body(admin_client.get(url)))
    assert "due-bot" in page and "no evidence yet (due in" in page and "none open" in page
    assert "nothing awaits" in page
    response = admin_client.post(
        url, {"_mark": "1", "agent": [due.pk], "note": "fine"}, follow=True
    )
    assert "Marked 1 agent(s) reviewed." in text(body(response))
    assert FleetReviewAgent.objects.get(review=review).reviewed_by == admin_user
    response = admin_client.post(
        url, {"_findings": "1", "findings": "All good", "actions_agreed": ""}, follow=True
    )
    assert "Findings recorded." in text(body(response))
    response = admin_client.post(url, {"_complete": "1"}, follow=True)
    review.refresh_from_db()
    assert review.state == "completed"


@pytest.fixture
def paged_review(monkeypatch):
    """The tier-1 review with three agents due, two to a page."""
    monkeypatch.setattr(reviews_admin, "PAGE", 2)
    fleet_reviews_schedule()
    for slug in ("due-a", "due-b", "due-c"):
        AgentFactory(tier=1, slug=slug)
    review = FleetReview.objects.get(tier=1)
    return reverse("admin:center_fleetreview_review", args=[review.pk])


@pytest.mark.parametrize("p", ["²", "١", "abc", "", "-1", "0", "1.5"])
def test_review_page_reads_a_page_that_is_not_a_number_as_the_first(admin_client, paged_review, p):
    page = text(body(admin_client.get(paged_review, {"p": p})))
    assert "Agents due (page 1)" in page
    assert "due-a" in page and "due-b" in page and "due-c" not in page
    assert "next →" in page and "← previous" not in page


@pytest.mark.parametrize("p", ["3", "99999999999999999999999", "9" * 5000, "0" * 30 + "7"])
def test_review_page_past_the_end_shows_the_last_page(admin_client, paged_review, p):
    page = text(body(admin_client.get(paged_review, {"p": p})))
    assert "Agents due (page 2)" in page
    assert "due-c" in page and "due-a" not in page
    assert "← previous" in page and "next →" not in page


def test_review_page_with_no_agent_due_past_the_end_shows_the_empty_first_page(admin_client):
    fleet_reviews_schedule()
    url = reverse("admin:center_fleetreview_review", args=[FleetReview.objects.get(tier=3).pk])
    page = text(body(admin_client.get(url, {"p": "5"})))
    assert "Agents due (page 1)" in page and "No agent of this tier is due." in page


@pytest.mark.parametrize("bad", ["²", "99999999999999999999999", "abc", "-3", ""])
def test_marking_with_a_bad_agent_id_is_an_error_and_marks_nothing(admin_client, paged_review, bad):
    due = Agent.objects.get(slug="due-a")
    response = admin_client.post(
        paged_review, {"_mark": "1", "agent": [due.pk, bad], "note": "x"}, follow=True
    )
    page = text(body(response))
    assert f"{bad!r} is not an agent id; no agent was marked reviewed." in page
    assert "Marked" not in page
    assert not FleetReviewAgent.objects.exists()


@pytest.mark.parametrize("bad", ["²", "abc"])
def test_a_review_or_agent_change_url_with_a_bad_id_says_it_does_not_exist(admin_client, bad):
    for name in ("admin:center_fleetreview_changelist", "admin:trust_agent_changelist"):
        response = admin_client.get(f"{reverse(name)}{bad}/change/", follow=True)
        assert "doesn’t exist" in text(body(response))


def test_a_review_or_story_id_past_the_database_range_is_not_found(admin_client):
    huge = 10**23
    assert admin_client.get(f"/admin/center/fleetreview/{huge}/review/").status_code == 404
    assert admin_client.get(f"/admin/trust/agent/{huge}/story/").status_code == 404


def test_metrics_page_shows_definitions_values_and_takes_a_snapshot(admin_client, actor, agent):
    url = reverse("admin:center_metrics")
    page = text(body(admin_client.get(url)))
    assert "No snapshot yet" in page
    for label in ("Fleet trust review coverage", "Time to trust decision",
                  "Escalation routing accuracy", "Repeat systemic issue rate",
                  "Operator confidence"):  # fmt: skip
        assert label in page
    assert "within their pact version's review cadence" in page
    incident(agent, actor)
    response = admin_client.post(url, {"_snapshot": "1"}, follow=True)
    page = text(body(response))
    assert "Today's snapshot taken" in page and "100 %" in page


def test_metrics_page_queries_do_not_grow_with_history(admin_client, django_assert_max_num_queries):
    metrics_snapshot_take()
    with django_assert_max_num_queries(12) as few:
        body(admin_client.get(reverse("admin:center_metrics")))
    for days in range(1, 30):
        metrics_snapshot_take(day=timezone.now().date() - timedelta(days=days))
    with django_assert_max_num_queries(len(few.captured_queries)):
        body(admin_client.get(reverse("admin:center_metrics")))


@pytest.mark.parametrize(
    "name",
    ["systemicissue", "fleetreview", "feedback", "metricsnapshot", "operatorscope"],
)
def test_center_changelists_render(admin_client, name):
    assert body(admin_client.get(reverse(f"admin:center_{name}_changelist")))


def test_feedback_add_form_records_through_the_service(admin_client, admin_user, actor, agent):
    opened = incident(agent, actor)
    response = admin_client.post(
        reverse("admin:center_feedback_add"),
        {
            "subject": "incident",
            "incident": opened.pk,
            "useful": "on",
            "credible": "on",
            "comment": "Quick and right",
        },
        follow=True,
    )
    assert response.status_code == 200
    from atoc.center.models import Feedback

    feedback = Feedback.objects.get()
    assert feedback.author == admin_user and feedback.positive and feedback.team == agent.team
    response = admin_client.post(
        reverse("admin:center_feedback_add"), {"subject": "decision", "incident": opened.pk}
    )
    assert "Choose the decision you rate." in body(response)


def test_cached_counts_follow_every_change_at_once(admin_client, actor, settings):
    settings.ATOC_FLEET_PICTURE_CACHE_SECONDS = 300
    opened = incident(AgentFactory(), actor, hours_ago=0.1)
    url = reverse("admin:index")

    def unresolved_by_state():
        fleet = admin_client.get(url).context["fleet"]
        return dict(zip(["open", "acknowledged", "decided"], fleet["state_totals"], strict=True))

    assert unresolved_by_state() == {"open": 1, "acknowledged": 0, "decided": 0}
    assert unresolved_by_state() == {"open": 1, "acknowledged": 0, "decided": 0}  # from cache
    incident_acknowledge(incident=opened, actor=actor)
    assert unresolved_by_state() == {"open": 0, "acknowledged": 1, "decided": 0}
    AgentFactory(evaluation_due_at=timezone.now() - timedelta(days=1))
    assert admin_client.get(url).context["fleet"]["stale_total"] == 1
