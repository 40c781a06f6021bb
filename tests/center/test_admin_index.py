from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from tests.factories import AgentFactory, TeamFactory


def test_admin_index_shows_every_team_and_stale_agents(admin_client):
    ops = TeamFactory(name="Customer Operations")
    fin = TeamFactory(name="Finance")
    AgentFactory(team=ops, slug="fresh-agent")
    AgentFactory(team=fin, slug="stale-agent", evaluation_due_at=timezone.now() - timedelta(days=2))

    response = admin_client.get(reverse("admin:index"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Customer Operations" in body
    assert "Finance" in body
    assert "stale-agent" in body
    assert "Agents with stale evidence (1 of 2)" in body


def test_a_retired_agent_is_never_stale(admin_client):
    long_ago = timezone.now() - timedelta(days=2)
    AgentFactory(slug="stale-agent", evaluation_due_at=long_ago)
    retired = AgentFactory(slug="gone-agent", evaluation_due_at=long_ago, status="retired")

    body = admin_client.get(reverse("admin:index")).content.decode()
    assert "Agents with stale evidence (1 of 2)" in body and "gone-agent" not in body
    stale_list = admin_client.get(
        reverse("admin:trust_agent_changelist") + "?freshness=stale"
    ).content.decode()
    assert "stale-agent" in stale_list and "gone-agent" not in stale_list
    assert not retired.is_stale()


def test_admin_index_query_count_does_not_grow_with_the_fleet(
    admin_client, django_assert_max_num_queries
):
    team = TeamFactory()
    AgentFactory(team=team, evaluation_due_at=timezone.now() - timedelta(days=1))
    with django_assert_max_num_queries(25) as small:
        admin_client.get(reverse("admin:index"))
    for _ in range(30):
        AgentFactory(team=TeamFactory(), evaluation_due_at=timezone.now() - timedelta(days=1))
    with django_assert_max_num_queries(len(small.captured_queries)):
        admin_client.get(reverse("admin:index"))
