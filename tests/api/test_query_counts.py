"""Every list endpoint costs the same number of queries for 1 row and for 50."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    AgentFactory,
    DisputeFactory,
    EvaluationFactory,
    EvaluationResultFactory,
    ObligationFactory,
    PactFactory,
    PactVersionFactory,
    TeamFactory,
)
from trust.models import Team
from trust.services.agents import components_get_or_create

pytestmark = pytest.mark.django_db


def add_agent(n):
    agent = AgentFactory()
    agent.components.set(components_get_or_create([f"model-{n}", "shared-tool"]))


def add_team(n):
    AgentFactory(team=TeamFactory())


def add_pact(n):
    PactVersionFactory(pact=PactFactory())


def add_evaluation(n):
    evaluation = EvaluationFactory()
    EvaluationResultFactory(evaluation=evaluation)


def add_dispute(n):
    DisputeFactory()


@pytest.fixture
def shared_pact():
    return PactFactory(slug="shared")


def add_version_to(pact):
    def add(n):
        version = PactVersionFactory(pact=pact, number=n + 1)
        ObligationFactory(pact_version=version, metric=f"extra_{n}")

    return add


def queries_for(client, path) -> tuple[int, int]:
    client.get(path)  # the API key is cached after its first use: count a warm request
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(captured), len(response.json()["results"])


@pytest.mark.parametrize(
    ("path", "add"),
    [
        ("/api/v1/agents/", add_agent),
        ("/api/v1/agents/?component=shared-tool", add_agent),
        ("/api/v1/teams/", add_team),
        ("/api/v1/pacts/", add_pact),
        ("/api/v1/evaluations/", add_evaluation),
        ("/api/v1/disputes/", add_dispute),
    ],
)
@pytest.mark.parametrize("restricted", [False, True], ids=["all-teams", "team-key"])
def test_list_query_count_does_not_grow_with_rows(make_client, path, add, restricted):
    _assert_constant(make_client, path, add, restricted)


@pytest.mark.parametrize("restricted", [False, True], ids=["all-teams", "team-key"])
def test_pact_version_list_query_count_does_not_grow(make_client, shared_pact, restricted):
    path = f"/api/v1/pacts/{shared_pact.pk}/versions/"
    _assert_constant(make_client, path, add_version_to(shared_pact), restricted)


def _assert_constant(make_client, path, add, restricted):
    add(0)
    teams = list(Team.objects.all()) if restricted else []
    client = make_client(["read"], teams=teams)
    one, rows_one = queries_for(client, path)
    for n in range(1, 50):
        add(n)
    if restricted:
        client.api_key.teams.set(Team.objects.all())
    fifty, rows_fifty = queries_for(client, path)
    assert rows_one == 1
    assert rows_fifty == 50
    assert fifty == one
