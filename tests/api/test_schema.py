"""The OpenAPI schema: valid, warning-free, complete, and its docs page served locally."""

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert target.read_text().startswith("openapi:")


@pytest.fixture
def schema(anonymous):
    response = anonymous.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_lists_every_trust_endpoint(schema):
    assert {
        "/api/v1/agents/",
        "/api/v1/agents/{slug}/",
        "/api/v1/agents/{slug}/trust/",
        "/api/v1/trust/keys/",
        "/api/v1/teams/",
        "/api/v1/teams/{slug}/",
        "/api/v1/pacts/",
        "/api/v1/pacts/{id}/",
        "/api/v1/pacts/{pact_id}/versions/",
        "/api/v1/pacts/{pact_id}/versions/{number}/",
        "/api/v1/evaluations/",
        "/api/v1/evaluations/{id}/",
        "/api/v1/disputes/",
        "/api/v1/disputes/{id}/",
        "/api/v1/disputes/{id}/resolve/",
    } <= set(schema["paths"])


def test_schema_lists_every_escalations_endpoint(schema):
    assert {
        "/api/v1/signals/",
        "/api/v1/signals/{id}/",
        "/api/v1/incidents/",
        "/api/v1/incidents/{id}/",
        "/api/v1/incidents/{id}/acknowledge/",
        "/api/v1/incidents/{id}/decide/",
        "/api/v1/incidents/{id}/resolve/",
        "/api/v1/incidents/{id}/escalate/",
        "/api/v1/severity-levels/",
        "/api/v1/severity-levels/{id}/",
        "/api/v1/controls/",
        "/api/v1/controls/{id}/",
        "/api/v1/counterparts/",
        "/api/v1/counterparts/{id}/",
        "/api/v1/routing-rules/",
        "/api/v1/routing-rules/{id}/",
    } <= set(schema["paths"])


def test_signal_body_is_one_signal_or_a_list_of_at_most_1000(schema):
    post = schema["paths"]["/api/v1/signals/"]["post"]
    assert post["requestBody"]["required"] is True
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    item = {"$ref": "#/components/schemas/SignalInputRequest"}
    assert body == {
        "oneOf": [item, {"type": "array", "items": item, "minItems": 1, "maxItems": 1000}]
    }
    signal = schema["components"]["schemas"]["SignalInputRequest"]
    assert signal["additionalProperties"] is False
    assert set(signal["properties"]) == {
        *("agent", "kind", "observed_at", "value", "source", "idempotency_key", "payload"),
    }
    assert {"200", "201", "404", "422"} <= set(post["responses"])


def test_no_webhook_secret_in_the_schema(schema):
    assert "webhook_secret" not in yaml.safe_dump(schema)


def test_every_protected_operation_documents_its_errors(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert "429" in codes, (method, path)
            if path == "/api/v1/trust/keys/":
                continue
            assert {"400", "401", "403", "404"} <= codes, (method, path)
            if method in ("post", "put", "patch"):
                assert {"409", "413", "415"} <= codes, (method, path)
            for code in codes - {"200", "201"}:
                ref = operation["responses"][code]["content"]["application/json"]["schema"]
                assert ref == {"$ref": "#/components/schemas/Error"}


def test_post_operations_document_the_idempotency_key(schema):
    for path, operations in schema["paths"].items():
        if "post" in operations:
            params = [p["name"] for p in operations["post"].get("parameters", [])]
            assert "Idempotency-Key" in params, path
            assert "422" in operations["post"]["responses"], path


def test_bearer_scheme_is_documented(schema):
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "atoc_<prefix>_<secret>",
        "description": "An API key created with `manage.py create_api_key`.",
    }


def test_docs_page_uses_local_static_files(anonymous):
    response = anonymous.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn.jsdelivr" not in html
