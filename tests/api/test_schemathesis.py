"""Fuzz the whole API from its own OpenAPI schema, in process, with every scope.

schemathesis generates valid and invalid requests for each operation and runs
its default checks (no 5xx, status codes and bodies as documented, invalid data
rejected, …). Realistic rows exist so detail URLs and references can hit data.
"""

import re
import uuid
from datetime import timedelta

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings

from atoc.core.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from atoc.core.api.idempotency import KEY_PATTERN
from atoc.core.history import get_system_user
from atoc.core.services import api_key_create
from config.wsgi import application
from escalations.services.signals import signal_ingest
from tests.factories import AgentFactory, DisputeFactory, EvaluationFactory, TeamFactory

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture
def keep_test_connection():
    """Django closes the connection when a WSGI request ends; the test transaction needs it.

    (Django's own test client does the same around its requests.)
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(db, keep_test_connection, ladder):
    team = TeamFactory(slug="payments")
    agent = AgentFactory(slug="refund-bot", team=team)
    EvaluationFactory(agent=agent)
    DisputeFactory(agent=agent)
    for kind in ("pact_breach", "incident_flag"):  # an open incident of each kind, and signals
        signal_ingest(
            agent=agent,
            kind=kind,
            observed_at=timezone.now() - timedelta(minutes=5),
            source="schemathesis",
            idempotency_key=kind,
            actor=get_system_user(),
        )
    _, raw = api_key_create(
        name="schemathesis", scopes=["read", "signals:write", "evaluations:write", "admin"]
    )
    return {"Authorization": f"Bearer {raw}"}


@schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_api_conforms_to_its_schema(case, bearer):
    headers = case.headers or {}
    key = headers.get(IDEMPOTENCY_HEADER)
    if key is not None and re.fullmatch(KEY_PATTERN, key):
        # Generated keys repeat across examples with different bodies, which the API
        # rightly refuses (422, tested in test_idempotency); keep each valid key unique.
        headers[IDEMPOTENCY_HEADER] = uuid.uuid4().hex
    case.call_and_validate(headers=bearer)
