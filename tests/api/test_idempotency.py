"""The Idempotency-Key header: replay, a different body, a request still in flight."""

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from atoc.core.api.idempotency import request_fingerprint
from atoc.core.models import IdempotencyRecord, IdempotencyState
from atoc.core.services import idempotency_records_purge
from tests.api.conftest import client_with_key
from tests.api.support import assert_error, evaluation_body
from tests.factories import AgentFactory
from trust.api import views
from trust.models import Evaluation, Pact
from trust.services.pacts import pact_create

PACT = {"slug": "refunds", "name": "Refunds"}


@pytest.mark.django_db
def test_same_key_and_body_replays_the_first_response(api):
    first = api.post("/api/v1/pacts/", PACT, HTTP_IDEMPOTENCY_KEY="k-1")
    replay = api.post("/api/v1/pacts/", PACT, HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Pact.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert record.state == IdempotencyState.DONE
    assert record.client == f"key:{api.api_key.pk}"
    assert record.status_code == 201


@pytest.mark.django_db
def test_evaluation_replay_creates_one_evaluation(api):
    agent = AgentFactory()
    body = evaluation_body(agent, value=0.2)
    first = api.post("/api/v1/evaluations/", body, HTTP_IDEMPOTENCY_KEY="run-42")
    replay = api.post("/api/v1/evaluations/", body, HTTP_IDEMPOTENCY_KEY="run-42")
    assert replay.json() == first.json()
    assert Evaluation.objects.count() == 1


@pytest.mark.django_db
def test_same_key_with_a_different_body_is_422(api):
    api.post("/api/v1/pacts/", PACT, HTTP_IDEMPOTENCY_KEY="k-1")
    response = api.post("/api/v1/pacts/", {**PACT, "name": "Other"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert_error(response, 422, code="idempotency_key_reused")
    assert Pact.objects.get().name == "Refunds"


@pytest.mark.django_db
def test_same_key_on_another_endpoint_is_422(api):
    api.post("/api/v1/pacts/", PACT, HTTP_IDEMPOTENCY_KEY="k-1")
    agent = AgentFactory()
    response = api.post("/api/v1/evaluations/", evaluation_body(agent), HTTP_IDEMPOTENCY_KEY="k-1")
    assert_error(response, 422)


@pytest.mark.django_db
def test_keys_are_scoped_per_client(api, make_client):
    other = make_client(["admin"], name="other")
    api.post("/api/v1/pacts/", PACT, HTTP_IDEMPOTENCY_KEY="shared")
    response = other.post(
        "/api/v1/pacts/", {"slug": "other", "name": "Other"}, HTTP_IDEMPOTENCY_KEY="shared"
    )
    assert response.status_code == 201
    assert Pact.objects.count() == 2


@pytest.mark.django_db
def test_a_failed_request_is_not_stored_and_can_be_retried(api):
    response = api.post("/api/v1/pacts/", {"slug": "refunds"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 400
    assert not IdempotencyRecord.objects.exists()
    retry = api.post("/api/v1/pacts/", PACT, HTTP_IDEMPOTENCY_KEY="k-1")
    assert retry.status_code == 201


@pytest.mark.django_db
def test_malformed_key_is_a_400(api):
    response = api.post("/api/v1/pacts/", PACT, HTTP_IDEMPOTENCY_KEY="x" * 256)
    assert_error(response, 400, field="Idempotency-Key")
    assert not Pact.objects.exists()


@pytest.mark.django_db
def test_a_request_in_flight_is_409(api):
    IdempotencyRecord.objects.create(
        client=f"key:{api.api_key.pk}",
        key="k-1",
        method="POST",
        path="/api/v1/pacts/",
        fingerprint=_fingerprint_of(api, PACT),
    )
    response = api.post("/api/v1/pacts/", PACT, HTTP_IDEMPOTENCY_KEY="k-1")
    assert_error(response, 409, code="idempotency_in_flight")
    assert not Pact.objects.exists()


@pytest.mark.django_db
def test_a_request_stuck_in_flight_is_taken_over_after_the_timeout(api, settings):
    settings.ATOC_IDEMPOTENCY_IN_FLIGHT_TIMEOUT = 60
    IdempotencyRecord.objects.create(
        client=f"key:{api.api_key.pk}",
        key="k-1",
        method="POST",
        path="/api/v1/pacts/",
        fingerprint=_fingerprint_of(api, PACT),
        created_at=timezone.now() - timedelta(minutes=5),
    )
    response = api.post("/api/v1/pacts/", PACT, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201
    assert IdempotencyRecord.objects.get().state == IdempotencyState.DONE


@pytest.mark.django_db
def test_purge_removes_old_records_only():
    now = timezone.now()
    for key, age in (("old", timedelta(days=3)), ("new", timedelta(hours=1))):
        IdempotencyRecord.objects.create(
            client="key:1",
            key=key,
            method="POST",
            path="/api/v1/pacts/",
            fingerprint="0" * 64,
            created_at=now - age,
        )
    assert idempotency_records_purge(older_than=now - timedelta(days=1)) == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


# Threads need committed rows, hence a transactional test.
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_the_same_key_run_once(api, monkeypatch):
    """While the first request is inside the service, the second one gets 409."""
    entered, release = threading.Event(), threading.Event()

    def slow_pact_create(**kwargs):
        entered.set()
        assert release.wait(10)
        return pact_create(**kwargs)

    monkeypatch.setattr(views, "pact_create", slow_pact_create)
    results = {}

    def first_request():
        try:
            results["first"] = api.post("/api/v1/pacts/", PACT, HTTP_IDEMPOTENCY_KEY="k-1")
        finally:
            connection.close()

    thread = threading.Thread(target=first_request)
    thread.start()
    try:
        assert entered.wait(10)
        second = client_with_key(api.raw_key).post(
            "/api/v1/pacts/", PACT, HTTP_IDEMPOTENCY_KEY="k-1"
        )
    finally:
        release.set()
        thread.join(10)

    assert_error(second, 409, code="idempotency_in_flight")
    assert results["first"].status_code == 201
    assert Pact.objects.count() == 1
    third = api.post("/api/v1/pacts/", PACT, HTTP_IDEMPOTENCY_KEY="k-1")
    assert third.status_code == 201
    assert third["Idempotent-Replayed"] == "true"


def _fingerprint_of(client, body) -> str:
    """The fingerprint the server computes for a POST of ``body`` to /api/v1/pacts/."""
    request = SimpleNamespace(method="POST", data=body, get_full_path=lambda: "/api/v1/pacts/")
    return request_fingerprint(request)
