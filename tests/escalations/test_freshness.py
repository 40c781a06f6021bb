"""The freshness check: stale evidence raises one signal per lapse, one incident per pact."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalations.choices import SignalKind, TimelineKind
from escalations.models import Incident, Signal, Silence
from escalations.services.freshness import freshness_check, stale_signal_key
from escalations.services.ladder import ladder_levels, ladder_snapshot_for
from tests.factories import AgentFactory, UserFactory
from trust.models import Agent

pytestmark = pytest.mark.django_db


def make_stale(agent, *, ago=timedelta(hours=1)):
    Agent.objects.filter(pk=agent.pk).update(evaluation_due_at=timezone.now() - ago)
    agent.refresh_from_db()
    return agent


def test_a_stale_agent_gets_an_evaluation_stale_incident(agent, defaults):
    make_stale(agent)
    fresh = AgentFactory()

    assert freshness_check() == 1

    signal = Signal.objects.get()
    assert signal.agent == agent and signal.kind == SignalKind.EVALUATION_STALE
    assert signal.source == "atoc"
    assert signal.idempotency_key == stale_signal_key(
        agent_id=agent.pk, evaluation_due_at=agent.evaluation_due_at
    )
    assert signal.observed_at == agent.evaluation_due_at
    incident = signal.incident
    assert incident.severity == defaults.levels["SEV4"]
    assert incident.pact_id == agent.pact_version.pact_id
    assert not Signal.objects.filter(agent=fresh).exists()


def test_running_twice_opens_nothing_new(agent):
    make_stale(agent)
    freshness_check()
    counts = (Signal.objects.count(), Incident.objects.count())

    assert freshness_check() == 0
    assert freshness_check(now=timezone.now() + timedelta(hours=3)) == 0

    assert (Signal.objects.count(), Incident.objects.count()) == counts
    incident = Incident.objects.get()
    assert incident.signal_count == 1
    assert not incident.timeline.filter(kind=TimelineKind.SIGNAL_JOINED).exists()


def test_a_new_lapse_joins_the_open_incident(agent):
    make_stale(agent, ago=timedelta(days=2))
    freshness_check()
    make_stale(agent, ago=timedelta(hours=1))  # evaluated since, and stale again

    assert freshness_check() == 1

    assert Signal.objects.count() == 2
    incident = Incident.objects.get()
    assert incident.signal_count == 2


def test_a_lapse_inside_a_silence_is_signalled_when_the_silence_ends(agent):
    now = timezone.now()
    make_stale(agent, ago=timedelta(hours=2))
    silence = Silence.objects.create(
        agent=agent,
        starts_at=now - timedelta(hours=3),
        ends_at=now + timedelta(hours=1),
        reason="Model migration",
        created_by=UserFactory(),
    )

    assert freshness_check(now=now) == 1
    assert freshness_check(now=now + timedelta(minutes=30)) == 0  # still silenced
    suppressed = Signal.objects.get()
    assert suppressed.suppressed and suppressed.silence == silence
    assert not Incident.objects.exists()

    later = now + timedelta(hours=2)
    assert freshness_check(now=later) == 1
    assert freshness_check(now=later + timedelta(hours=1)) == 0  # once

    signal = Signal.objects.exclude(pk=suppressed.pk).get()
    assert not signal.suppressed and signal.observed_at == silence.ends_at
    assert Incident.objects.get().signals.get() == signal


def test_retired_agents_and_agents_without_a_deadline_are_left_alone(agent):
    make_stale(agent)
    Agent.objects.filter(pk=agent.pk).update(status="retired")
    AgentFactory(pact_version=None, evaluation_due_at=None)

    assert freshness_check() == 0


def test_the_check_costs_the_same_number_of_queries_for_3_or_30_stale_agents():
    freshness_check()  # the system user exists before counting
    ladder_snapshot_for(ladder_levels())  # and so does the ladder snapshot

    def run(count):
        for agent in AgentFactory.create_batch(count):
            make_stale(agent)
        with CaptureQueriesContext(connection) as ctx:
            assert freshness_check() == count
        Incident.objects.update(state="resolved", resolved_at=timezone.now())
        return len(ctx.captured_queries)

    assert run(3) == run(30)
