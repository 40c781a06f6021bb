"""Ingesting signals: grouping, idempotency, silences, routing, notifications, bad input."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from atoc.core.exceptions import ValidationFailed
from escalations.choices import (
    EscalationReason,
    IncidentState,
    NotificationChannel,
    SignalKind,
    SilenceRecurrence,
    TimelineKind,
)
from escalations.exceptions import IdempotencyConflict, UnknownAgent
from escalations.models import Escalation, Incident, Notification, Signal, TimelineEntry
from escalations.services.incidents import incident_decide, incident_resolve
from escalations.services.outbox import send_delivery_task
from escalations.services.signal_input import PAYLOAD_MAX_BYTES
from escalations.services.signals import signals_ingest_bulk
from tests.escalations.support import ingest, refused, timeline_kinds
from tests.factories import (
    AgentFactory,
    CounterpartFactory,
    RoutingRuleFactory,
    SilenceFactory,
    TeamFactory,
)
from trust.models import Agent, Component

pytestmark = pytest.mark.django_db


# --- grouping -------------------------------------------------------------------------


def test_first_signal_opens_an_incident_at_the_controls_level(agent, actor, defaults):
    before = timezone.now()

    outcome = ingest(agent, actor, kind=SignalKind.PACT_BREACH, value=2)

    incident = outcome.incident
    assert outcome.created and outcome.opened
    assert incident.state == IncidentState.OPEN
    assert incident.severity == defaults.levels["SEV3"]
    assert incident.control == defaults.controls["pact_breach"]
    assert incident.pact_id == agent.pact_version.pact_id
    assert incident.grouping_key == f"{agent.pk}:pact_breach:{agent.pact_version.pact_id}"
    assert incident.signal_count == 1
    assert before + timedelta(hours=1) <= incident.ack_due_at <= timezone.now() + timedelta(hours=1)
    assert [level["name"] for level in incident.ladder.levels] == ["SEV4", "SEV3", "SEV2", "SEV1"]
    assert outcome.signal.incident == incident
    assert outcome.signal.control == defaults.controls["pact_breach"]
    assert timeline_kinds(incident) == [
        TimelineKind.OPENED,
        TimelineKind.ROUTED,
        TimelineKind.NOTIFICATION_QUEUED,
    ]
    assert incident.history.get().history_user == actor


def test_signals_for_the_same_agent_kind_and_pact_join_the_open_incident(agent, actor):
    first = ingest(agent, actor)
    second = ingest(agent, actor)
    third = ingest(agent, actor)

    assert second.incident.pk == third.incident.pk == first.incident.pk
    assert not second.opened and second.created
    incident = Incident.objects.get()
    assert incident.signal_count == 3
    assert incident.last_signal_at == third.signal.observed_at
    assert incident.signals.count() == 3
    joined = incident.timeline.filter(kind=TimelineKind.SIGNAL_JOINED)
    assert [row.data["signals"] for row in joined] == [[second.signal.pk], [third.signal.pk]]
    # joining tells nobody again
    assert Notification.objects.filter(event="opened").count() == incident.notifications.count()


def test_other_kinds_agents_and_pacts_open_their_own_incidents(agent, actor):
    other_agent = AgentFactory()
    ingest(agent, actor, kind=SignalKind.PACT_BREACH)
    ingest(agent, actor, kind=SignalKind.CUSTOM)
    ingest(other_agent, actor, kind=SignalKind.PACT_BREACH)
    ingest(agent, actor, kind=SignalKind.PACT_BREACH, pact=other_agent.pact_version.pact_id)

    assert Incident.objects.count() == 4


def test_a_signal_after_resolution_opens_a_new_incident(agent, actor):
    first = ingest(agent, actor).incident
    incident_decide(incident=first, consequence="monitor", rationale="Watch it", actor=actor)
    incident_resolve(incident=first, actor=actor)

    second = ingest(agent, actor)

    assert second.opened and second.incident.pk != first.pk
    assert Incident.objects.filter(state=IncidentState.RESOLVED).count() == 1


def test_the_agents_read_fields_count_open_incidents_and_their_highest_severity(agent, actor):
    ingest(agent, actor, kind=SignalKind.CUSTOM)  # SEV4
    ingest(agent, actor, kind=SignalKind.INCIDENT_FLAG)  # SEV2

    agent.refresh_from_db()
    assert agent.open_incident_count == 2
    assert (agent.highest_open_severity, agent.highest_open_severity_rank) == ("SEV2", 3)


def test_a_severity_named_by_the_evidence_raises_the_opening_level(agent, actor, defaults):
    outcome = ingest(agent, actor, severity="SEV2")

    assert outcome.incident.severity == defaults.levels["SEV2"]


def test_new_evidence_of_a_higher_severity_raises_an_open_incident(agent, actor, defaults):
    incident = ingest(agent, actor).incident  # SEV3

    ingest(agent, actor, severity="SEV2")

    incident.refresh_from_db()
    assert incident.severity == defaults.levels["SEV2"]
    escalation = Escalation.objects.get(incident=incident)
    assert escalation.reason == EscalationReason.NEW_EVIDENCE
    assert (escalation.from_severity.name, escalation.to_severity.name) == ("SEV3", "SEV2")
    assert timeline_kinds(incident)[-3:] == [
        TimelineKind.SIGNAL_JOINED,
        TimelineKind.PROMOTED,
        TimelineKind.NOTIFICATION_QUEUED,
    ]
    assert incident.history.first().history_change_reason.startswith("SEV3 → SEV2")


def test_a_signal_below_the_controls_threshold_is_stored_and_opens_nothing(agent, actor, defaults):
    outcome = ingest(agent, actor, kind=SignalKind.SCORE_DROP, value=99)

    assert outcome.incident is None
    assert outcome.signal.control == defaults.controls["score_drop"]
    assert not Incident.objects.exists()
    assert ingest(agent, actor, kind=SignalKind.SCORE_DROP, value=100).opened


def test_a_kind_without_an_enabled_control_is_stored_and_opens_nothing(agent, actor, defaults):
    control = defaults.controls["custom"]
    control.enabled = False
    control.save()

    outcome = ingest(agent, actor, kind=SignalKind.CUSTOM)

    assert outcome.signal.pk and outcome.signal.control is None and outcome.incident is None


# --- idempotency ------------------------------------------------------------------------


def test_a_replay_returns_the_original_result_and_creates_nothing(agent, actor):
    observed = timezone.now() - timedelta(minutes=3)
    first = ingest(agent, actor, key="run-1", observed_at=observed, value=0.4, payload={"a": 1})
    counts = (Signal.objects.count(), TimelineEntry.objects.count(), Notification.objects.count())

    replay = ingest(
        agent.slug, actor, key="run-1", observed_at=observed, value=0.4, payload={"a": 1}
    )

    assert not replay.created
    assert replay.signal.pk == first.signal.pk
    assert replay.incident.pk == first.incident.pk
    assert counts == (
        Signal.objects.count(),
        TimelineEntry.objects.count(),
        Notification.objects.count(),
    )
    assert Incident.objects.get().signal_count == 1


def test_the_fingerprint_ignores_key_order_and_time_zone_notation(agent, actor):
    observed = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    with_offset = observed.astimezone(timezone.get_fixed_timezone(120))
    first = ingest(agent, actor, key="k", observed_at=observed, payload={"a": 1, "b": [1, 2]})

    replay = ingest(agent, actor, key="k", observed_at=with_offset, payload={"b": [1, 2], "a": 1})

    assert not replay.created and replay.signal.pk == first.signal.pk


@pytest.mark.parametrize(
    "change",
    [
        {"value": 0.5},
        {"payload": {"a": 2}},
        {"kind": SignalKind.CUSTOM},
        {"observed_at": datetime(2026, 1, 5, 12, 1, tzinfo=UTC)},
    ],
)
def test_the_same_key_with_a_different_body_is_refused(agent, actor, change):
    body = {
        "key": "run-1",
        "value": 0.4,
        "payload": {"a": 1},
        "observed_at": datetime(2026, 1, 5, 12, 0, tzinfo=UTC),
    }
    ingest(agent, actor, **body)

    with refused(IdempotencyConflict, field="idempotency_key", code="idempotency_conflict") as e:
        ingest(agent, actor, **{**body, **change})
    assert e.value.status_code == 422


def test_the_same_key_from_another_source_is_a_different_signal(agent, actor):
    ingest(agent, actor, key="k", source="a")
    outcome = ingest(agent, actor, key="k", source="b")
    assert outcome.created and Signal.objects.count() == 2


def test_the_same_key_for_another_agent_is_refused(agent, actor):
    other = AgentFactory()
    ingest(agent, actor, key="k")
    with refused(IdempotencyConflict, field="idempotency_key"):
        ingest(other, actor, key="k")


# --- silences ---------------------------------------------------------------------------


def test_a_silenced_agents_signal_is_stored_suppressed_and_opens_nothing(agent, actor):
    silence = SilenceFactory(agent=agent)

    with CaptureQueriesContext(connection):
        outcome = ingest(agent, actor)

    assert outcome.incident is None
    assert outcome.signal.suppressed and outcome.signal.silence == silence
    assert not Incident.objects.exists() and not Notification.objects.exists()
    assert ingest(AgentFactory(), actor).opened  # another agent is not silenced


def test_a_silenced_component_suppresses_the_agents_built_on_it(agent, actor):
    component = Component.objects.create(name="model-x")
    agent.components.add(component)
    SilenceFactory(agent=None, component=component)

    assert ingest(agent, actor).signal.suppressed
    assert not ingest(AgentFactory(), actor).signal.suppressed


def test_a_signal_observed_outside_the_silence_is_not_suppressed(agent, actor):
    SilenceFactory(agent=agent)

    outcome = ingest(agent, actor, observed_at=timezone.now() - timedelta(hours=2))

    assert not outcome.signal.suppressed and outcome.opened


def test_a_recurring_silence_applies_only_inside_its_daily_window(agent, actor):
    now = timezone.now()
    SilenceFactory(
        agent=agent,
        starts_at=now - timedelta(days=10),
        ends_at=now + timedelta(days=10),
        recurrence=SilenceRecurrence.DAILY,
        window_start=time(1, 0),
        window_end=time(3, 0),
    )
    yesterday = (now - timedelta(days=1)).date()
    inside = datetime.combine(yesterday, time(2, 0), tzinfo=UTC)
    outside = datetime.combine(yesterday, time(4, 0), tzinfo=UTC)

    assert ingest(agent, actor, observed_at=inside).signal.suppressed
    assert not ingest(agent, actor, observed_at=outside).signal.suppressed


# --- routing and notifications ----------------------------------------------------------


def test_the_default_route_and_the_controls_owner_get_the_incident(agent, actor, defaults):
    incident = ingest(agent, actor, kind=SignalKind.PACT_BREACH).incident

    platform, product = defaults.counterparts["platform"], defaults.counterparts["product"]
    assert set(incident.counterparts.all()) == {platform, product}
    assert set(incident.first_counterparts.all()) == {platform, product}
    assert incident.routing_snapshot["default"] is True
    assert incident.routing_snapshot["owner"] == product.pk
    assert not incident.rerouted


def test_the_most_specific_matching_rules_win_over_general_ones(actor, defaults):
    team = TeamFactory()
    agent = AgentFactory(team=team, tier=1)
    general = CounterpartFactory(name="Any breach")
    team_desk = CounterpartFactory(name="Team desk")
    tier_desk = CounterpartFactory(name="Tier desk")
    RoutingRuleFactory(kind="pact_breach", counterparts=[general], order=1)
    RoutingRuleFactory(kind="pact_breach", team=team, counterparts=[team_desk], order=3)
    RoutingRuleFactory(kind="pact_breach", tier=1, counterparts=[tier_desk], order=2)

    incident = ingest(agent, actor).incident

    owner = defaults.controls["pact_breach"].owner
    assert incident.routing_snapshot["counterparts"] == [tier_desk.pk, team_desk.pk, owner.pk]
    assert incident.routing_snapshot["default"] is False
    # another team's agent only matches the general and tier rules
    other = ingest(AgentFactory(tier=1), actor).incident
    assert other.routing_snapshot["counterparts"] == [tier_desk.pk, owner.pk]


def test_a_rule_with_a_minimum_severity_matches_only_at_or_above_it(agent, actor, defaults):
    pager = CounterpartFactory(name="Pager")
    RoutingRuleFactory(min_severity=defaults.levels["SEV2"], counterparts=[pager])

    low = ingest(agent, actor, kind=SignalKind.PACT_BREACH).incident  # SEV3
    high = ingest(agent, actor, kind=SignalKind.INCIDENT_FLAG).incident  # SEV2

    assert pager not in low.counterparts.all()
    assert pager in high.counterparts.all()


def test_opening_queues_one_message_per_counterpart_and_channel(agent, actor, defaults):
    product = defaults.counterparts["product"]
    product.webhook_url = "https://hooks.example.com/product"
    product.save()

    incident = ingest(agent, actor, kind=SignalKind.PACT_BREACH).incident

    rows = set(incident.notifications.values_list("counterpart__function", "channel", "event"))
    # routed: platform (default route) and product (owner); SEV3 also tells platform/product
    assert rows == {
        ("platform", NotificationChannel.EMAIL, "opened"),
        ("product", NotificationChannel.EMAIL, "opened"),
        ("product", NotificationChannel.WEBHOOK, "opened"),
    }
    message = incident.notifications.first()
    assert message.payload["incident"] == incident.pk
    assert message.payload["agent"] == agent.slug
    assert message.payload["severity"] == "SEV3"
    assert message.state == "pending"


def test_delivery_is_enqueued_on_commit(agent, actor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        ingest(agent, actor)
    assert callbacks == [send_delivery_task]


def test_nothing_is_enqueued_when_the_transaction_rolls_back(
    agent, actor, django_capture_on_commit_callbacks
):
    class Abort(Exception):
        pass

    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(Abort),
        transaction.atomic(),
    ):
        ingest(agent, actor)
        raise Abort
    assert callbacks == []
    assert not Signal.objects.exists() and not Notification.objects.exists()


def test_a_joining_signal_enqueues_nothing(agent, actor, django_capture_on_commit_callbacks):
    ingest(agent, actor)
    with django_capture_on_commit_callbacks() as callbacks:
        ingest(agent, actor)
    assert callbacks == []


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"agent": "no-such-agent"}, UnknownAgent, "agent"),
        ({"agent": ""}, ValidationFailed, "agent"),
        ({"kind": "meteor_strike"}, ValidationFailed, "kind"),
        ({"observed_at": "yesterday"}, ValidationFailed, "observed_at"),
        ({"observed_at": datetime(2026, 1, 1, 12, 0)}, ValidationFailed, "observed_at"),
        ({"source": ""}, ValidationFailed, "source"),
        ({"source": "s" * 101}, ValidationFailed, "source"),
        ({"idempotency_key": ""}, ValidationFailed, "idempotency_key"),
        ({"idempotency_key": "   "}, ValidationFailed, "idempotency_key"),
        ({"idempotency_key": "k" * 256}, ValidationFailed, "idempotency_key"),
        ({"value": float("nan")}, ValidationFailed, "value"),
        ({"value": "0.4"}, ValidationFailed, "value"),
        ({"value": True}, ValidationFailed, "value"),
        ({"payload": ["not", "an", "object"]}, ValidationFailed, "payload"),
        ({"payload": {"x": float("inf")}}, ValidationFailed, "payload"),
        ({"payload": {"x": object()}}, ValidationFailed, "payload"),
        ({"payload": {"blob": "x" * PAYLOAD_MAX_BYTES}}, ValidationFailed, "payload"),
        ({"severity": "SEV9"}, ValidationFailed, "severity"),
        ({"pact": 10**9}, ValidationFailed, "pact"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
    agent, actor, change, error, field
):
    ingest(agent, actor)  # something to leave untouched
    change = dict(change)
    who = change.pop("agent", agent)
    with refused(error, field=field) as info:
        ingest(who, actor, **change)
    assert info.value.status_code == 400


def test_a_deleted_agent_object_is_an_unknown_agent(actor):
    ghost = Agent(pk=10**9, slug="ghost")
    with refused(UnknownAgent, field="agent", code="unknown_agent"):
        ingest(ghost, actor)


def test_an_observation_in_the_future_is_refused_beyond_five_minutes(agent, actor):
    now = timezone.now()
    assert ingest(agent, actor, observed_at=now + timedelta(minutes=4)).created
    with refused(ValidationFailed, field="observed_at"):
        ingest(agent, actor, observed_at=now + timedelta(minutes=6))


def test_a_payload_of_exactly_64_kib_is_accepted(agent, actor):
    filler = "x" * (PAYLOAD_MAX_BYTES - len('{"blob":""}'))
    assert ingest(agent, actor, payload={"blob": filler}).created


def test_a_255_character_key_is_accepted(agent, actor):
    assert ingest(agent, actor, key="k" * 255).created


# --- bulk ---------------------------------------------------------------------------------


def _item(agent, key, **overrides):
    return {
        "agent": agent.slug,
        "kind": "pact_breach",
        "observed_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
        "source": "bulk",
        "idempotency_key": key,
        **overrides,
    }


def test_bulk_ingest_returns_one_outcome_per_item_in_order(actor):
    agents = AgentFactory.create_batch(3)
    items = [_item(a, f"k{i}") for i, a in enumerate(agents)] + [_item(agents[0], "k9")]

    outcomes = signals_ingest_bulk(items=items, actor=actor)

    assert [o.signal.idempotency_key for o in outcomes] == ["k0", "k1", "k2", "k9"]
    assert [o.opened for o in outcomes] == [True, True, True, False]
    assert outcomes[3].incident.pk == outcomes[0].incident.pk
    assert Incident.objects.count() == 3
    assert outcomes[0].incident.signal_count == 2
    agents[0].refresh_from_db()
    assert agents[0].open_incident_count == 1


def test_bulk_ingest_is_all_or_nothing(agent, actor):
    items = [_item(agent, "k1"), _item(agent, "k2"), _item(agent, "k3", kind="bogus")]

    with refused(ValidationFailed, field="items[2].kind"):
        signals_ingest_bulk(items=items, actor=actor)


def test_bulk_ingest_names_an_unknown_agent_by_its_position(agent, actor):
    items = [_item(agent, "k1"), {**_item(agent, "k2"), "agent": "nobody"}]
    with refused(UnknownAgent, field="items[1].agent"):
        signals_ingest_bulk(items=items, actor=actor)


def test_bulk_ingest_refuses_unknown_fields_and_non_objects(agent, actor):
    with refused(ValidationFailed, field="items[0].colour"):
        signals_ingest_bulk(items=[{**_item(agent, "k"), "colour": "red"}], actor=actor)
    with refused(ValidationFailed, field="items[0]"):
        signals_ingest_bulk(items=["not an object"], actor=actor)


@pytest.mark.parametrize("items", [[], None, "x"])
def test_bulk_ingest_needs_a_non_empty_list(actor, items):
    with refused(ValidationFailed, field="items"):
        signals_ingest_bulk(items=items, actor=actor)


def test_bulk_ingest_accepts_at_most_a_thousand(agent, actor):
    with refused(ValidationFailed, field="items"):
        signals_ingest_bulk(items=[_item(agent, f"k{i}") for i in range(1001)], actor=actor)


def test_a_key_repeated_inside_a_batch_is_stored_once(agent, actor):
    item = _item(agent, "dup")
    outcomes = signals_ingest_bulk(items=[item, dict(item)], actor=actor)

    assert [o.created for o in outcomes] == [True, False]
    assert outcomes[0].signal.pk == outcomes[1].signal.pk
    assert Signal.objects.count() == 1


def test_a_key_repeated_inside_a_batch_with_another_body_is_refused(agent, actor):
    items = [_item(agent, "dup"), _item(agent, "dup", value=3)]
    with refused(IdempotencyConflict, field="items[1].idempotency_key"):
        signals_ingest_bulk(items=items, actor=actor)


def test_a_bulk_replay_mixes_original_results_and_new_signals(agent, actor):
    original = _item(agent, "a")
    first = signals_ingest_bulk(items=[original], actor=actor)[0]
    outcomes = signals_ingest_bulk(items=[dict(original), _item(agent, "b")], actor=actor)

    assert [o.created for o in outcomes] == [False, True]
    assert outcomes[0].signal.pk == first.signal.pk


def _bulk_queries(actor, count: int, prefix: str) -> int:
    agents = AgentFactory.create_batch(count)
    items = [_item(a, f"{prefix}-{i}") for i, a in enumerate(agents)]
    items += [_item(a, f"{prefix}-again-{i}") for i, a in enumerate(agents)]
    with CaptureQueriesContext(connection) as ctx:
        signals_ingest_bulk(items=items, actor=actor)
    return len(ctx.captured_queries)


def test_bulk_ingest_costs_the_same_number_of_queries_for_5_or_50_agents(actor):
    ingest(AgentFactory(), actor)  # the ladder snapshot exists before counting
    assert _bulk_queries(actor, 5, "small") == _bulk_queries(actor, 50, "large")


def test_joining_existing_incidents_costs_a_constant_number_of_queries(actor):
    def run(count: int, prefix: str) -> int:
        agents = AgentFactory.create_batch(count)
        signals_ingest_bulk(items=[_item(a, f"{prefix}-o-{i}") for i, a in enumerate(agents)],
                            actor=actor)  # fmt: skip
        items = [_item(a, f"{prefix}-j-{i}") for i, a in enumerate(agents)]
        with CaptureQueriesContext(connection) as ctx:
            signals_ingest_bulk(items=items, actor=actor)
        return len(ctx.captured_queries)

    assert run(3, "s") == run(30, "l")
