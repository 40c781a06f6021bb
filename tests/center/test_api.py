"""GET /api/v1/metrics/: the stored snapshots, with the kernel's auth, scopes and errors."""

from datetime import timedelta

import pytest
from django.utils import timezone

from atoc.center.services.metrics import metrics_snapshot_take
from tests.api.conftest import client_with_key
from tests.center.support import incident
from tests.factories import AgentFactory, TeamFactory

URL = "/api/v1/metrics/"


@pytest.fixture
def snapshots(actor):
    for slug in ("ops", "fin"):
        incident(AgentFactory(team=TeamFactory(slug=slug)), actor)
    metrics_snapshot_take(day=timezone.now().date() - timedelta(days=7))
    metrics_snapshot_take()


def key_client(scopes, teams=()):
    from atoc.core.services import api_key_create

    api_key, raw = api_key_create(name="dashboards", scopes=scopes, teams=teams)
    return client_with_key(raw, api_key)


def test_lists_snapshots_newest_first_with_their_unit(snapshots):
    response = key_client(["read"]).get(URL, {"metric": "routing_accuracy", "scope": "fleet"})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["day"] for row in rows] == sorted((row["day"] for row in rows), reverse=True)
    assert len(rows) == 2
    row = rows[0]
    assert row["metric"] == "routing_accuracy" and row["unit"] == "share"
    assert row["value"] == 1.0 and row["count"] == 2
    assert row["details"] == {"numerator": 2, "denominator": 2}
    assert set(row) == {"id", "day", "metric", "scope", "value", "unit", "count", "window_days",
                        "details", "computed_at"}  # fmt: skip


def test_filters_by_day_and_reads_one(snapshots):
    client = key_client(["read"])
    today = timezone.now().date().isoformat()
    rows = client.get(URL, {"since": today, "page_size": 500}).json()["results"]
    assert rows and {row["day"] for row in rows} == {today}
    one = client.get(f"{URL}{rows[0]['id']}/").json()
    assert one["id"] == rows[0]["id"]


def test_a_team_restricted_key_sees_no_other_teams_values(snapshots):
    client = key_client(["read"], teams=[TeamFactory._meta.model.objects.get(slug="ops")])
    scopes = {row["scope"] for row in client.get(URL, {"page_size": 500}).json()["results"]}
    assert "team:ops" in scopes and "fleet" in scopes
    assert "team:fin" not in scopes


def test_needs_credentials_and_the_read_scope(snapshots, client):
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    response = key_client(["signals:write"]).get(URL)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This action needs the 'read' scope."


@pytest.mark.parametrize(
    ("query", "field"),
    [({"metric": "happiness"}, "metric"), ({"since": "yesterday"}, "since")],
)
def test_bad_filters_answer_400_naming_the_field(snapshots, query, field):
    response = key_client(["read"]).get(URL, query)
    assert response.status_code == 400
    assert response.json()["error"]["fields"][0]["field"] == field


def test_writes_are_not_allowed(snapshots):
    response = key_client(["admin"]).post(URL, {}, format="json")
    assert response.status_code == 405
    assert "error" in response.json()


def test_list_costs_the_same_queries_for_many_rows(snapshots, django_assert_max_num_queries):
    client = key_client(["read"])
    with django_assert_max_num_queries(8) as few:
        client.get(URL, {"page_size": 2})
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(URL, {"page_size": 100})


def test_the_schema_documents_the_endpoint(admin_client):
    schema = admin_client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/metrics/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"metric", "scope", "since", "until", "cursor"} <= names
    assert "403" in operation["responses"] and "401" in operation["responses"]
