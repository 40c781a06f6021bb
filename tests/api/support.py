"""Helpers for the API tests: request bodies and the error-shape assertion."""

from datetime import timedelta

from django.utils import timezone

from trust.choices import Comparator, MetricUnit


def iso(value) -> str:
    return value.isoformat()


def passing_value(obligation) -> float:
    """A measurement that meets ``obligation`` (its threshold, or just past it)."""
    threshold = obligation.threshold
    if obligation.comparator == Comparator.GT:
        return (threshold + 1) / 2 if obligation.unit == MetricUnit.RATIO else threshold + 1
    if obligation.comparator == Comparator.LT:
        return threshold / 2
    return threshold


def evaluation_results(agent, *, value=0.95) -> list[dict]:
    """One result for every obligation of the agent's pact version, task_success_rate first.

    task_success_rate is measured at ``value``; every other obligation passes.
    """
    results = [
        {
            "obligation": "task_success_rate",
            "value": value,
            "label": "measured",
            "explanation": "share of tasks completed",
        }
    ]
    if agent.pact_version_id is None:
        return results
    for obligation in agent.pact_version.obligations.order_by("pk"):
        if obligation.metric != "task_success_rate":
            results.append({"obligation": obligation.metric, "value": passing_value(obligation)})
    return results


def evaluation_body(agent, *, value=0.95, **overrides) -> dict:
    """A valid evaluation submission for ``agent``: a result for every obligation of its
    pact version, task_success_rate (measured at ``value``) first."""
    now = timezone.now()
    body = {
        "agent": agent.slug,
        "pact_version": agent.pact_version_id,
        "evaluator": "eval-runner",
        "evaluator_kind": "code",
        "independent": True,
        "suite": "nightly",
        "started_at": iso(now - timedelta(minutes=10)),
        "completed_at": iso(now - timedelta(minutes=1)),
        "results": evaluation_results(agent, value=value),
        "evidence_uri": "s3://evidence/run-1.json",
        "evidence_sha256": "ab" * 32,
        "trace_url": "https://traces.example.com/run-1",
    }
    body.update(overrides)
    return body


def dispute_body(agent, **overrides) -> dict:
    body = {
        "agent": agent.slug,
        "reference": "SETTLE-API-1",
        "counterparty": "Acme Payments",
        "amount": "1250.50",
        "currency": "EUR",
        "description": "Refund issued twice",
    }
    body.update(overrides)
    return body


def version_body(**overrides) -> dict:
    body = {
        "freshness_window_seconds": 7 * 86400,
        "review_cadence_seconds": 30 * 86400,
        "notes": "first",
        "obligations": [
            {
                "metric": "task_success_rate",
                "comparator": "gte",
                "threshold": 0.9,
                "unit": "ratio",
                "window_seconds": 86400,
                "breach_severity": "SEV2",
                "description": "Tasks completed",
            }
        ],
    }
    body.update(overrides)
    return body


def assert_error(response, status: int, *, code: str | None = None, field: str | None = None):
    """The response is the API's JSON error with this status (and code / field when given)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"status", "code", "message", "fields"}
    assert error["status"] == status
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        assert field in [f["field"] for f in error["fields"]], error
    return error


def signal_body(agent, *, key: str = "sig-1", **overrides) -> dict:
    """A valid ``POST /api/v1/signals/`` item for ``agent``: a pact breach a minute ago."""
    body = {
        "agent": agent if isinstance(agent, str) else agent.slug,
        "kind": "pact_breach",
        "observed_at": iso(timezone.now() - timedelta(minutes=1)),
        "value": 0.42,
        "source": "eval-runner",
        "idempotency_key": key,
        "payload": {"run": key},
    }
    body.update(overrides)
    return body
