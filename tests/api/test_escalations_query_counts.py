"""Every escalations list endpoint costs the same number of queries for 1 row and for 50."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalations.models import Counterpart, Incident, SeverityLevel
from escalations.services.configuration import (
    control_create,
    counterpart_create,
    routing_rule_create,
)
from escalations.services.incidents import incident_acknowledge
from escalations.services.signals import signal_ingest
from tests.factories import AgentFactory, TeamFactory, UserFactory
from trust.models import Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor(ladder):
    return UserFactory(username="counter")


def add_signal(actor):
    def add(n):
        signal_ingest(
            agent=AgentFactory(),
            kind="pact_breach",
            observed_at=timezone.now() - timedelta(minutes=1),
            source="counts",
            idempotency_key=f"k{n}",
            actor=actor,
        )

    return add


def add_acknowledged_incident(actor):
    def add(n):
        signal_ingest(
            agent=AgentFactory(),
            kind="incident_flag",
            observed_at=timezone.now() - timedelta(minutes=1),
            source="counts",
            idempotency_key=f"i{n}",
            actor=actor,
        )
        incident = Incident.objects.order_by("-pk").first()
        incident_acknowledge(incident=incident, actor=UserFactory(username=f"owner-{n}"))

    return add


def add_level(actor):
    def add(n):
        SeverityLevel.objects.create(
            name=f"L{n}",
            rank=100 + n,
            ack_deadline=timedelta(hours=1),
            decision_deadline=timedelta(hours=2),
        )

    return add


def add_control(actor):
    def add(n):
        control_create(
            actor=actor,
            name=f"Control {n}",
            signal_kind="custom",
            opening_severity=SeverityLevel.objects.get(name="SEV4"),
            owner=Counterpart.objects.get(name="Platform on-call"),
            consequence="monitor",
            enabled=False,
        )

    return add


def add_counterpart(actor):
    def add(n):
        counterpart_create(
            actor=actor,
            name=f"Counterpart {n}",
            function="platform",
            email=f"c{n}@example.com",
            team=TeamFactory(),
        )

    return add


def add_rule(actor):
    def add(n):
        routing_rule_create(
            actor=actor,
            name=f"Rule {n}",
            team=TeamFactory(),
            min_severity=SeverityLevel.objects.get(name="SEV2"),
            counterparts=list(Counterpart.objects.all()[:2]),
        )

    return add


def queries_for(client, path) -> tuple[int, int]:
    client.get(path, {"page_size": 500})  # the API key is cached after its first use
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, {"page_size": 500})
    assert response.status_code == 200, response.content
    return len(captured), len(response.json()["results"])


@pytest.mark.parametrize(
    ("path", "add"),
    [
        ("/api/v1/signals/", add_signal),
        ("/api/v1/signals/?kind=pact_breach", add_signal),
        ("/api/v1/incidents/", add_acknowledged_incident),
        ("/api/v1/incidents/?state=acknowledged&overdue=false", add_acknowledged_incident),
        ("/api/v1/severity-levels/", add_level),
        ("/api/v1/controls/", add_control),
        ("/api/v1/counterparts/", add_counterpart),
        ("/api/v1/routing-rules/", add_rule),
    ],
)
@pytest.mark.parametrize("restricted", [False, True], ids=["all-teams", "team-key"])
def test_list_query_count_does_not_grow_with_rows(make_client, actor, path, add, restricted):
    add = add(actor)
    add(0)
    client = make_client(["read"], teams=list(Team.objects.all()) if restricted else [])
    one, rows_one = queries_for(client, path)
    for n in range(1, 50):
        add(n)
    if restricted:
        client.api_key.teams.set(Team.objects.all())
    fifty, rows_fifty = queries_for(client, path)
    assert rows_fifty == rows_one + 49
    assert fifty == one
