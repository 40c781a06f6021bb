"""An operator's morning in a real browser: the fleet picture to a decision on an agent."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from atoc.center.models import SystemicIssue
from atoc.center.services.issues import systemic_issues_propose
from escalations.models import Incident
from tests.center.support import agent_on, incident
from tests.factories import TeamFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def fleet(db):
    """Three teams with agents on a shared model; one incident long unacknowledged."""
    operator = get_user_model().objects.create_superuser(
        username="morning-op", email="op@example.com", password=PASSWORD
    )
    teams = [TeamFactory(name=name) for name in ("Customer Operations", "Finance", "Engineering")]
    agents = [agent_on(team, "model:orion-large") for team in teams]
    for team in teams:
        agent_on(team, "model:orion-small")
    overdue = incident(agents[0], operator, hours_ago=3)
    for agent in agents[1:]:
        incident(agent, operator, kind="pact_breach", hours_ago=0.2)
    agents[2].evaluation_due_at = timezone.now() - timedelta(days=3)
    agents[2].save(update_fields=["evaluation_due_at"])
    systemic_issues_propose()
    return {"operator": operator, "overdue": overdue, "agent": agents[0]}


def log_in(page, live_server):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "morning-op")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


def test_operator_goes_from_the_fleet_picture_to_a_decision(page, live_server, fleet, screenshots):
    overdue = fleet["overdue"]
    agent = fleet["agent"]
    log_in(page, live_server)

    # The fleet trust picture, with freshness, severity and action state on every row.
    assert page.locator("h1").inner_text() == "Fleet trust picture"
    queue = page.locator("#action-queue")
    row = queue.locator("tr", has_text=f"#{overdue.pk}")
    assert overdue.severity.name in row.inner_text()
    assert "acknowledgement overdue by" in row.inner_text()
    assert re.search(r"no evidence yet|fresh|stale", row.inner_text())
    assert "stale for 3" in page.locator("#stale-agents").inner_text()
    assert "model:orion-large" in page.locator("#systemic-issues").inner_text()
    page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

    # The overdue queue.
    page.click("#overdue-link")
    page.wait_for_url(re.compile(r".*/admin/escalations/incident/\?overdue=yes"))
    assert page.locator("#result_list").locator("tr", has_text=f"#{overdue.pk}").count() == 1

    # Acknowledge it.
    page.check(f"input[name=_selected_action][value='{overdue.pk}']")
    page.select_option("select[name=action]", "acknowledge_selected")
    page.click("button[name=index]")
    assert "Acknowledged" in page.locator("ul.messagelist").inner_text()

    # Decide it through the intermediate form: suspend the agent.
    page.goto(f"{live_server.url}/admin/escalations/incident/?q={agent.slug}")
    page.check(f"input[name=_selected_action][value='{overdue.pk}']")
    page.select_option("select[name=action]", "decide_selected")
    page.click("button[name=index]")
    assert "Decide incidents" in page.locator("h1").inner_text()
    page.select_option("select[name=consequence]", "suspend")
    page.fill("textarea[name=rationale]", "Refunds issued twice; stop it until fixed.")
    page.click("input[type=submit][value=Decide]")
    assert "Decided" in page.locator("ul.messagelist").inner_text()
    assert Incident.objects.get(pk=overdue.pk).state == "decided"

    # The agent's status changed, and its history says who and why.
    page.goto(f"{live_server.url}/admin/trust/agent/{agent.pk}/story/")
    assert page.locator("#agent-status").inner_text() == "Suspended"
    history = page.locator("#history").inner_text()
    assert "morning-op" in history and f"Decision on incident #{overdue.pk}: suspend" in history
    page.screenshot(path=str(screenshots / "agent.png"), full_page=True)

    # Confirm the proposed systemic issue.
    issue = SystemicIssue.objects.get()
    page.goto(f"{live_server.url}/admin/center/systemicissue/")
    page.check(f"input[name=_selected_action][value='{issue.pk}']")
    page.select_option("select[name=action]", "confirm_selected")
    page.click("button[name=index]")
    assert f"Confirmed: #{issue.pk}." in page.locator("ul.messagelist").inner_text()
    issue.refresh_from_db()
    assert issue.state == "confirmed" and issue.confirmed_by == fleet["operator"]


def test_restrict_an_agent_from_its_page(page, live_server, fleet):
    agent = fleet["agent"]
    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/trust/agent/{agent.pk}/story/")
    form = page.locator("#action-restrict")
    form.locator("textarea[name=rationale]").fill("Drifting answers on refunds.")
    form.locator("input[type=submit]").click()
    assert "is now restricted" in page.locator("ul.messagelist").inner_text()
    assert page.locator("#agent-status").inner_text() == "Restricted"
    assert "Drifting answers on refunds." in page.locator("#decisions").inner_text()


def test_handle_an_incident_from_its_own_page(page, live_server, fleet):
    overdue = fleet["overdue"]
    log_in(page, live_server)

    # From the queue to the incident's page.
    page.locator("#action-queue").get_by_role("link", name=f"#{overdue.pk}").click()
    page.wait_for_url(re.compile(rf".*/admin/escalations/incident/{overdue.pk}/change/"))
    actions = page.locator("#incident-actions")

    actions.locator("input[value=Acknowledge]").click()
    assert f"Acknowledged: #{overdue.pk}." in page.locator("ul.messagelist").inner_text()

    page.locator("#incident-actions input[data-action=decide_selected]").click()
    assert "Decide incidents" in page.locator("h1").inner_text()
    page.select_option("select[name=consequence]", "monitor")
    page.fill("textarea[name=rationale]", "A one-off; watch the next evaluations.")
    page.click("input[type=submit][value=Decide]")
    page.wait_for_url(re.compile(rf".*/admin/escalations/incident/{overdue.pk}/change/"))
    assert "Decided (Monitor (no change))" in page.locator("ul.messagelist").inner_text()

    page.locator("#incident-actions input[value=Resolve]").click()
    assert f"Resolved: #{overdue.pk}." in page.locator("ul.messagelist").inner_text()
    assert page.locator("#incident-actions").count() == 0
    overdue.refresh_from_db()
    assert overdue.state == "resolved"
    assert overdue.decisions.get().rationale == "A one-off; watch the next evaluations."
