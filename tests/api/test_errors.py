"""One JSON error shape for every 4xx/5xx under /api/, and HTML elsewhere."""

import json

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tests.api.support import assert_error, evaluation_body, version_body
from tests.factories import AgentFactory, PactFactory
from trust.models import Evaluation, PactVersion

pytestmark = pytest.mark.django_db


def test_unknown_api_path_is_a_json_404(api):
    error = assert_error(api.get("/api/v1/no-such-thing/"), 404, code="not_found")
    assert "/api/v1/no-such-thing/" in error["message"]


def test_unknown_path_outside_the_api_stays_html(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_unknown_agent_is_a_json_404(api):
    assert_error(api.get("/api/v1/agents/nobody/"), 404, code="not_found")


def test_method_not_allowed_is_json(api):
    error = assert_error(api.delete("/api/v1/pacts/"), 405, code="method_not_allowed")
    assert "DELETE" in error["message"]


def test_malformed_json_is_a_400(api):
    response = api.post("/api/v1/pacts/", data='{"slug": ', content_type="application/json")
    error = assert_error(response, 400, code="parse_error")
    assert "JSON" in error["message"]


def test_nan_is_refused_as_malformed_json(api):
    agent = AgentFactory()
    raw = json.dumps(evaluation_body(agent)).replace('"value": 0.95', '"value": NaN')
    response = api.post("/api/v1/evaluations/", data=raw, content_type="application/json")
    assert_error(response, 400, code="parse_error")


def test_deeply_nested_json_is_a_400_not_a_crash(api):
    raw = "[" * 100_000 + "]" * 100_000
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1_000_000):
        response = api.post("/api/v1/pacts/", data=raw, content_type="application/json")
    assert_error(response, 400, code="parse_error")


def test_form_bodies_are_refused(api):
    response = api.post(
        "/api/v1/pacts/", data="slug=x&name=y", content_type="application/x-www-form-urlencoded"
    )
    assert_error(response, 415, code="unsupported_media_type")


def test_oversize_body_is_a_413(api):
    agent = AgentFactory()
    body = evaluation_body(agent)
    body["results"][0]["explanation"] = "x" * (2 * 1024 * 1024)
    response = api.post("/api/v1/evaluations/", body)
    assert_error(response, 413, code="payload_too_large")
    assert not Evaluation.objects.exists()


def test_oversize_body_limit_follows_the_setting(api):
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100):
        response = api.post("/api/v1/pacts/", {"slug": "s", "name": "n" * 200})
    assert_error(response, 413)


def test_validation_error_names_nested_fields(api):
    pact = PactFactory()
    body = version_body()
    body["obligations"][0]["comparator"] = "about"
    body["obligations"][0]["window_seconds"] = -5
    response = api.post(f"/api/v1/pacts/{pact.pk}/versions/", body)
    error = assert_error(response, 400, code="invalid")
    fields = {f["field"]: f for f in error["fields"]}
    assert set(fields) == {"obligations[0].comparator", "obligations[0].window_seconds"}
    assert "about" in fields["obligations[0].comparator"]["message"]
    assert not PactVersion.objects.exists()


def test_single_validation_error_message_names_the_field(api):
    response = api.post("/api/v1/pacts/", {"name": "No slug"})
    error = assert_error(response, 400, code="required", field="slug")
    assert error["message"].startswith("slug:")


def test_domain_error_keeps_its_status_code_and_field(api):
    agent = AgentFactory()
    body = evaluation_body(agent)
    body["results"][0]["obligation"] = "latency_p99"
    error = assert_error(api.post("/api/v1/evaluations/", body), 400, field="results[0].obligation")
    assert "latency_p99" in error["message"]


def test_unknown_agent_in_a_body_is_404_naming_the_field(api):
    AgentFactory()
    body = evaluation_body(AgentFactory.build(slug="ghost", pact_version=None))
    body["pact_version"] = 1
    assert_error(api.post("/api/v1/evaluations/", body), 404, code="not_found", field="agent")


def test_duplicate_slug_is_a_409_on_the_field(api):
    AgentFactory(slug="taken")
    agent = AgentFactory()
    response = api.post(
        "/api/v1/agents/",
        {"slug": "taken", "name": "x", "team": agent.team.slug, "tier": 2},
    )
    assert_error(response, 409, code="already_exists", field="slug")
    duplicate_pact = api.post("/api/v1/pacts/", {"slug": agent.pact_version.pact.slug, "name": "x"})
    assert_error(duplicate_pact, 409, code="already_exists", field="slug")


def test_unexpected_exception_is_a_json_500_under_api(api, monkeypatch):
    def boom():
        raise RuntimeError("kaboom")

    monkeypatch.setattr("trust.api.views.published_keys", boom)
    client = APIClient(raise_request_exception=False)
    error = assert_error(client.get("/api/v1/trust/keys/"), 500, code="server_error")
    assert "kaboom" not in error["message"]


def test_throttled_requests_get_429_with_retry_after(make_client):
    client = make_client(["read"], name="throttled")
    rates = {"api_key": "2/min", "anonymous": "2/min"}
    with override_settings(
        REST_FRAMEWORK={
            **__import__("django.conf").conf.settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": rates,
        }
    ):
        assert client.get("/api/v1/teams/").status_code == 200
        assert client.get("/api/v1/teams/").status_code == 200
        response = client.get("/api/v1/teams/")
        other = make_client(["read"], name="other")
        other_response = other.get("/api/v1/teams/")
    error = assert_error(response, 429, code="throttled")
    assert int(response["Retry-After"]) > 0
    assert "retry" in error["message"].lower()
    assert other_response.status_code == 200  # budgets are per key
