"""POST /api/v1/signals/: bulk lists, idempotency (also under concurrency) and bad input.

Every refusal has the one error shape and writes nothing: no signal, no incident,
no idempotency record.
"""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from atoc.core.models import IdempotencyRecord
from escalations.models import Incident, Signal
from tests.api.conftest import client_with_key
from tests.api.support import assert_error, signal_body
from tests.factories import AgentFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ladder(ladder):
    """Every test here runs with the default ladder, controls and routing."""


def nothing_written():
    return (
        not Signal.objects.exists()
        and not Incident.objects.exists()
        and not IdempotencyRecord.objects.exists()
    )


# --- bulk -------------------------------------------------------------------------------


def test_a_bulk_of_1000_is_stored_in_one_request(api):
    agents = [AgentFactory() for _ in range(10)]
    items = [signal_body(agents[n % 10], key=f"k{n}") for n in range(1000)]

    response = api.post("/api/v1/signals/", items)

    assert response.status_code == 201, response.content[:500]
    results = response.json()
    assert len(results) == 1000
    assert Signal.objects.count() == 1000
    assert Incident.objects.count() == 10  # one per agent, the rest joined
    ids = dict(Signal.objects.values_list("idempotency_key", "id"))
    assert [r["id"] for r in results] == [ids[f"k{n}"] for n in range(1000)]
    assert all(r["incident"] is not None for r in results)


def test_a_list_over_1000_is_refused_and_nothing_is_written(api):
    agent = AgentFactory()
    items = [signal_body(agent, key=f"k{n}") for n in range(1001)]
    error = assert_error(api.post("/api/v1/signals/", items), 400, code="max_length")
    assert "1000" in error["message"]
    assert nothing_written()


def test_an_empty_list_is_refused(api):
    assert_error(api.post("/api/v1/signals/", []), 400, code="min_length")


def test_bulk_is_all_or_nothing_and_names_the_item(api):
    agent = AgentFactory()
    items = [signal_body(agent, key=f"k{n}") for n in range(5)]
    items[3]["kind"] = "sneeze"
    error = assert_error(api.post("/api/v1/signals/", items), 400, field="[3].kind")
    assert "sneeze" not in error["fields"][0]["field"]
    assert nothing_written()


def test_bulk_refusal_from_the_service_names_the_item_too(api):
    agent = AgentFactory()
    items = [signal_body(agent, key=f"k{n}") for n in range(3)]
    items[2]["observed_at"] = (timezone.now() + timedelta(days=1)).isoformat()
    error = assert_error(api.post("/api/v1/signals/", items), 400, field="[2].observed_at")
    assert "future" in error["message"]
    assert nothing_written()


def test_bulk_replay_is_200_with_the_original_results(api):
    agent = AgentFactory()
    items = [signal_body(agent, key=f"k{n}") for n in range(3)]
    first = api.post("/api/v1/signals/", items)
    replay = api.post("/api/v1/signals/", items)
    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json() == first.json()
    assert Signal.objects.count() == 3


def test_bulk_mixing_replays_and_new_signals_is_201(api):
    agent = AgentFactory()
    old = signal_body(agent, key="old")
    first = api.post("/api/v1/signals/", [old]).json()
    response = api.post("/api/v1/signals/", [old, signal_body(agent, key="new")])
    assert response.status_code == 201
    results = response.json()
    assert results[0] == first[0]
    assert results[1]["id"] == Signal.objects.get(idempotency_key="new").pk


def test_the_same_key_twice_in_one_list_is_stored_once(api):
    agent = AgentFactory()
    body = signal_body(agent, key="dup")
    response = api.post("/api/v1/signals/", [body, body])
    assert response.status_code == 201
    one, two = response.json()
    assert one == two
    assert Signal.objects.count() == 1


def test_bulk_with_a_key_reused_for_another_body_is_422_and_writes_nothing_new(api):
    agent = AgentFactory()
    api.post("/api/v1/signals/", signal_body(agent, key="old"))
    items = [signal_body(agent, key="fresh"), signal_body(agent, key="old", value=7.0)]
    assert_error(
        api.post("/api/v1/signals/", items),
        422,
        code="idempotency_conflict",
        field="[1].idempotency_key",
    )
    assert list(Signal.objects.values_list("idempotency_key", flat=True)) == ["old"]


def test_bulk_naming_another_teams_agent_is_404_and_writes_nothing(make_client):
    mine, theirs = TeamFactory(slug="mine"), TeamFactory(slug="theirs")
    ours, other = AgentFactory(team=mine), AgentFactory(team=theirs)
    client = make_client(["signals:write"], teams=[mine])
    items = [signal_body(ours, key="a"), signal_body(other, key="b"), signal_body(ours, key="c")]
    error = assert_error(client.post("/api/v1/signals/", items), 404, field="[1].agent")
    assert other.slug in error["message"]
    assert nothing_written()
    assert client.post("/api/v1/signals/", [items[0], items[2]]).status_code == 201


def test_idempotency_key_header_replays_a_bulk_too(api):
    agent = AgentFactory()
    items = [signal_body(agent, key="k1")]
    first = api.post("/api/v1/signals/", items, HTTP_IDEMPOTENCY_KEY="batch-1")
    replay = api.post("/api/v1/signals/", items, HTTP_IDEMPOTENCY_KEY="batch-1")
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()


# --- concurrency ---------------------------------------------------------------------------


def _post_concurrently(raw_key: str, bodies: list) -> list:
    """POST each body from its own thread at the same moment; return the responses."""
    barrier = threading.Barrier(len(bodies))
    responses = [None] * len(bodies)

    def post(index, body):
        try:
            barrier.wait(10)
            responses[index] = client_with_key(raw_key).post("/api/v1/signals/", body)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i, b)) for i, b in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return responses


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_the_same_signal_store_it_once(ladder, make_key):
    _, raw = make_key(["signals:write"])
    agent = AgentFactory()
    body = signal_body(agent, key="race")

    responses = _post_concurrently(raw, [body] * 4)

    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({json.dumps(r.json(), sort_keys=True) for r in responses}) == 1
    assert Signal.objects.count() == 1
    assert Incident.objects.get().signal_count == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_bulks_sharing_keys_store_each_signal_once(ladder, make_key):
    _, raw = make_key(["signals:write"])
    agents = [AgentFactory() for _ in range(3)]
    items = [signal_body(agents[n % 3], key=f"k{n}") for n in range(30)]

    responses = _post_concurrently(raw, [items, list(reversed(items)), items[:10]])

    assert all(r.status_code in (200, 201) for r in responses), [r.content for r in responses]
    assert Signal.objects.count() == 30
    first, second = responses[0].json(), responses[1].json()
    by_key = {item["idempotency_key"]: result for item, result in zip(items, first, strict=True)}
    for item, result in zip(reversed(items), second, strict=True):
        assert by_key[item["idempotency_key"]] == result
    assert sum(i.signal_count for i in Incident.objects.all()) == 30


# --- bad input ---------------------------------------------------------------------------


def test_malformed_json_is_400(api):
    response = api.post("/api/v1/signals/", data='{"agent": ', content_type="application/json")
    assert_error(response, 400, code="parse_error")
    assert nothing_written()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("value", "0.42"),  # a string for a number
        ("value", True),
        ("value", [1]),
        ("kind", "sneeze"),
        ("kind", 3),
        ("observed_at", "yesterday"),
        ("observed_at", "2026-01-01T10:00:00"),  # no time zone
        ("observed_at", "2026-13-01T10:00:00Z"),
        ("observed_at", "0001-01-01T00:00:00+01:00"),  # before the earliest instant
        ("observed_at", 1767261600),
        ("source", ""),
        ("source", "   "),
        ("source", "x" * 101),
        ("idempotency_key", ""),
        ("idempotency_key", "k" * 256),
        ("idempotency_key", 12),
        ("idempotency_key", "a\x00b"),
        ("payload", "text"),
        ("payload", ["a"]),
        ("payload", {"a": "nul\x00"}),
        ("payload", {"a": ["\ud800"]}),
        ("agent", "not a slug"),
        ("agent", 7),
    ],
)
def test_bad_fields_are_400_naming_the_field(api, field, value):
    body = signal_body(AgentFactory())
    body[field] = value
    raw = json.dumps(body)
    response = api.post("/api/v1/signals/", data=raw, content_type="application/json")
    assert_error(response, 400, field=field)
    assert nothing_written()


@pytest.mark.parametrize("missing", ["agent", "kind", "observed_at", "source", "idempotency_key"])
def test_required_fields(api, missing):
    body = signal_body(AgentFactory())
    del body[missing]
    assert_error(api.post("/api/v1/signals/", body), 400, field=missing)
    assert nothing_written()


def test_value_and_payload_are_optional(api):
    body = signal_body(AgentFactory())
    del body["value"], body["payload"]
    assert api.post("/api/v1/signals/", body).status_code == 201
    signal = Signal.objects.get()
    assert (signal.value, signal.payload) == (None, {})


def test_unknown_fields_are_refused_each_named(api):
    body = signal_body(AgentFactory(), severity="SEV1", colour="red")
    error = assert_error(api.post("/api/v1/signals/", body), 400, code="invalid")
    assert {f["field"] for f in error["fields"]} == {"severity", "colour"}
    assert nothing_written()


def test_a_body_that_is_not_an_object_or_list_is_400(api):
    response = api.post("/api/v1/signals/", data="42", content_type="application/json")
    assert_error(response, 400)
    response = api.post("/api/v1/signals/", ["nope"])
    assert_error(response, 400, field="[0]")
    assert nothing_written()


def test_unknown_agent_is_404_before_the_rest_of_the_body(api):
    body = signal_body("ghost", kind="sneeze")
    error = assert_error(api.post("/api/v1/signals/", body), 404, code="not_found", field="agent")
    assert "ghost" in error["message"]
    assert nothing_written()


def test_another_teams_agent_is_404(make_client):
    other = AgentFactory(team=TeamFactory(slug="theirs"))
    client = make_client(["signals:write"], teams=[TeamFactory(slug="mine")])
    assert_error(client.post("/api/v1/signals/", signal_body(other)), 404, field="agent")
    assert nothing_written()


def test_a_body_over_the_size_limit_is_413(api):
    agent = AgentFactory()
    items = [signal_body(agent, key=f"k{n}", payload={"pad": "x" * 3000}) for n in range(1000)]
    response = api.post("/api/v1/signals/", items)
    assert_error(response, 413, code="payload_too_large")
    assert nothing_written()


def test_a_payload_over_64_kib_is_400(api):
    body = signal_body(AgentFactory(), payload={"pad": "x" * (65 * 1024)})
    assert_error(api.post("/api/v1/signals/", body), 400, field="payload")
    assert nothing_written()


def test_form_bodies_are_415(api):
    response = api.post(
        "/api/v1/signals/", data="agent=x", content_type="application/x-www-form-urlencoded"
    )
    assert_error(response, 415)


def test_the_size_limit_follows_the_setting(api):
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100):
        response = api.post("/api/v1/signals/", signal_body(AgentFactory()))
    assert_error(response, 413)
    assert nothing_written()


# --- bad query parameters ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/v1/signals/", "since=yesterday", "since"),
        ("/api/v1/signals/", "since=2026-01-01", "since"),
        ("/api/v1/signals/", "kind=sneeze", "kind"),
        ("/api/v1/signals/", "page_size=0", "page_size"),
        ("/api/v1/incidents/", "overdue=0", "overdue"),  # "0" is not a boolean
        ("/api/v1/incidents/", "overdue=", "overdue"),
        ("/api/v1/incidents/", "state=closed", "state"),
        ("/api/v1/incidents/", "kind=", "kind"),
    ],
)
def test_bad_query_values_are_400(api, path, query, field):
    assert_error(api.get(f"{path}?{query}"), 400, field=field)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/signals/",
        "/api/v1/incidents/",
        "/api/v1/severity-levels/",
        "/api/v1/controls/",
        "/api/v1/counterparts/",
        "/api/v1/routing-rules/",
    ],
)
def test_a_tampered_cursor_is_404(api, path):
    assert_error(api.get(f"{path}?cursor=garbage"), 404)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/signals/", "/api/v1/incidents/", "/api/v1/severity-levels/", "/api/v1/evaluations/"],
)
def test_a_cursor_edited_to_a_position_the_column_cannot_hold_is_404(api, path):
    assert_error(api.get(f"{path}?cursor=cD1hYmM%3D"), 404)  # decodes to position "abc"


def test_a_string_for_a_boolean_in_a_body_is_400(api):
    body = {"name": "X", "function": "finance", "email": "x@example.com", "active": "0"}
    assert_error(api.post("/api/v1/counterparts/", body), 400, field="active")
