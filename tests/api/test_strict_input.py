"""The API accepts exactly what its schema documents: types, patterns, query values."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api.support import assert_error, dispute_body, evaluation_body
from tests.factories import AgentFactory, EvaluationFactory, PactFactory, TeamFactory
from trust.models import Pact

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tier", "1"),  # an integer choice sent as a string
        ("tier", 1.0),
        ("tier", True),
        ("name", 42),  # a number where a string is documented
        ("slug", "bot\n"),  # a pattern must match the whole value
        ("components", ["ok", 7]),
        ("pact_version", "3"),
    ],
)
def test_agent_body_fields_take_only_their_json_type(api, field, value):
    team = TeamFactory(slug="ops")
    body = {"slug": "bot", "name": "Bot", "team": team.slug, "tier": 2, field: value}
    error = assert_error(api.post("/api/v1/agents/", body), 400)
    assert error["fields"][0]["field"].startswith(field)


def test_strings_are_kept_as_sent(api):
    response = api.post("/api/v1/pacts/", {"slug": "p", "name": "  Spaced  "})
    assert response.status_code == 201
    assert Pact.objects.get().name == "  Spaced  "


@pytest.mark.parametrize("value", ["a\x00b", "\ud800"])
def test_nul_and_lone_surrogates_are_refused(api, value):
    raw = json.dumps({"slug": "p", "name": value})
    response = api.post("/api/v1/pacts/", data=raw, content_type="application/json")
    assert_error(response, 400, field="name")


@pytest.mark.parametrize(
    "value", ["2026-01-01 10:00:00Z", "2026-01-01T10:00:00", "2026-01-01", 1767261600]
)
def test_date_times_must_be_rfc3339_with_a_zone(api, value):
    agent = AgentFactory()
    body = evaluation_body(agent, started_at=value)
    assert_error(api.post("/api/v1/evaluations/", body), 400, field="started_at")


def test_lower_case_rfc3339_separators_are_accepted(api):
    agent = AgentFactory()
    now = timezone.now()
    body = evaluation_body(
        agent,
        started_at=(now - timedelta(minutes=9)).strftime("%Y-%m-%dt%H:%M:%Sz"),
        completed_at=(now - timedelta(minutes=1)).strftime("%Y-%m-%dt%H:%M:%Sz"),
    )
    assert api.post("/api/v1/evaluations/", body).status_code == 201


@pytest.mark.parametrize("amount", ["0.00", "-5", "1.234", "1e3", " 12.00", 12.5])
def test_amount_is_a_positive_decimal_string(api, amount):
    agent = AgentFactory()
    assert_error(api.post("/api/v1/disputes/", dispute_body(agent, amount=amount)), 400)


@pytest.mark.parametrize(
    ("field", "value"),
    [("trace_url", "ftp://x"), ("trace_url", "https://a b"), ("evidence_sha256", "abc")],
)
def test_optional_patterned_fields(api, field, value):
    agent = AgentFactory()
    assert_error(api.post("/api/v1/evaluations/", evaluation_body(agent, **{field: value})), 400)


def test_optional_patterned_fields_may_be_empty(api):
    agent = AgentFactory()
    body = evaluation_body(agent, trace_url="", evidence_sha256="", evidence_uri="")
    assert api.post("/api/v1/evaluations/", body).status_code == 201


def test_unknown_agent_is_404_before_the_rest_of_the_body_is_read(api):
    body = {"agent": "ghost", "started_at": "not a date"}
    assert_error(api.post("/api/v1/evaluations/", body), 404, field="agent")
    assert_error(api.post("/api/v1/disputes/", body), 404, field="agent")


def test_results_and_obligations_need_at_least_one_item(api):
    agent = AgentFactory()
    assert_error(
        api.post("/api/v1/evaluations/", evaluation_body(agent, results=[])), 400, field="results"
    )
    pact = PactFactory()
    body = {"freshness_window_seconds": 60, "review_cadence_seconds": 60, "obligations": []}
    assert_error(api.post(f"/api/v1/pacts/{pact.pk}/versions/", body), 400, field="obligations")


def test_obligation_reference_must_be_a_name_or_positive_id(api):
    agent = AgentFactory()
    body = evaluation_body(agent)
    body["results"][0]["obligation"] = 0
    assert_error(api.post("/api/v1/evaluations/", body), 400, field="results[0].obligation")


@pytest.mark.parametrize("key", ["has space", "", "ünïcode"])
def test_idempotency_key_is_visible_ascii(api, key):
    response = api.post(
        "/api/v1/pacts/",
        {"slug": "p", "name": "P"},
        HTTP_IDEMPOTENCY_KEY=key.encode().decode("latin-1"),
    )
    assert_error(response, 400, field="Idempotency-Key")


# --- query parameters ----------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "page_size=0",
        "page_size=501",
        "page_size=abc",
        "page_size=",
        "stale=maybe",
        "stale=null",
        "stale=",
        "tier=",
        "tier=4",
        "status=sleeping",
    ],
)
def test_bad_agent_list_parameters_are_400(api, query):
    name = query.split("=")[0]
    assert_error(api.get(f"/api/v1/agents/?{query}"), 400, field=name)


@pytest.mark.parametrize("since", ["", "yesterday", "2026-01-01T00:00:00", "2026-01-01"])
def test_since_must_be_rfc3339(api, since):
    assert_error(api.get("/api/v1/evaluations/", {"since": since}), 400, field="since")


@pytest.mark.parametrize(
    ("since", "count"),
    [
        ("0224-01-31T08:41:04-20:59", 1),  # an offset PostgreSQL would refuse
        ("0001-01-01T00:00:00+03:04", 1),  # before the earliest instant in UTC
        ("9999-12-31T23:00:00-05:00", 0),  # after the latest
    ],
)
def test_since_is_compared_in_utc_and_clamped(api, since, count):
    EvaluationFactory()
    response = api.get("/api/v1/evaluations/", {"since": since})
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == count


def test_invalid_cursor_is_404(api):
    assert_error(api.get("/api/v1/agents/?cursor=garbage"), 404)
