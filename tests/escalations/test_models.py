"""Database constraints of the escalations models, and the defaults the migration installs."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction
from django.utils import timezone

from escalations.defaults import install_defaults
from escalations.models import (
    Control,
    Counterpart,
    Incident,
    RiskAcceptance,
    RoutingRule,
    SeverityLevel,
    Signal,
    Silence,
)
from tests.escalations.support import ingest
from tests.factories import AgentFactory, CounterpartFactory
from tests.trust.support import violates

pytestmark = pytest.mark.django_db


def test_the_migration_installs_the_default_ladder(defaults):
    ladder = [
        (lv.name, lv.rank, lv.ack_deadline, lv.automatic_consequence, lv.max_reminders)
        for lv in SeverityLevel.objects.order_by("rank")
    ]
    assert ladder == [
        ("SEV4", 1, timedelta(hours=4), "", 0),
        ("SEV3", 2, timedelta(hours=1), "", 0),
        ("SEV2", 3, timedelta(minutes=15), "", 0),
        ("SEV1", 4, timedelta(minutes=5), "restrict_autonomy", 3),
    ]
    assert SeverityLevel.objects.get(name="SEV1").reminder_interval == timedelta(minutes=15)
    assert set(Counterpart.objects.values_list("function", flat=True)) == {
        "platform", "security", "product", "business", "finance",
    }  # fmt: skip
    assert set(Control.objects.values_list("signal_kind", flat=True)) == {
        "pact_breach", "score_drop", "evaluation_stale", "incident_flag",
        "settlement_dispute", "custom",
    }  # fmt: skip
    assert Control.objects.get(signal_kind="score_drop").condition == {"threshold": 100}
    assert RoutingRule.objects.filter(is_default=True).count() == 1


def test_installing_again_adds_nothing_and_keeps_edits(defaults):
    level = defaults.levels["SEV3"]
    level.ack_deadline = timedelta(hours=2)
    level.save()
    counts = [m.objects.count() for m in (SeverityLevel, Counterpart, Control, RoutingRule)]

    install_defaults(apps)

    assert [m.objects.count() for m in (SeverityLevel, Counterpart, Control, RoutingRule)] == counts
    level.refresh_from_db()
    assert level.ack_deadline == timedelta(hours=2)


def test_a_control_needs_a_consequence(defaults):
    control = defaults.controls["custom"]
    with violates("control_consequence_required"):
        Control.objects.filter(pk=control.pk).update(consequence="")


def test_a_control_needs_an_owner(defaults):
    with pytest.raises(IntegrityError), transaction.atomic():
        Control.objects.create(
            name="Ownerless",
            signal_kind="custom",
            opening_severity=defaults.levels["SEV4"],
            consequence="monitor",
            enabled=False,
        )


def test_one_enabled_control_per_kind(defaults):
    with violates("control_one_enabled_per_kind"):
        Control.objects.create(
            name="Second breach control",
            signal_kind="pact_breach",
            opening_severity=defaults.levels["SEV2"],
            owner=defaults.counterparts["security"],
            consequence="suspend",
        )


def test_a_counterpart_must_be_reachable():
    with violates("counterpart_reachable"):
        Counterpart.objects.create(name="Nobody", function="platform")
    assert CounterpartFactory(email="", webhook_url="https://hooks.example.com/x").pk


def test_a_counterparts_webhook_secret_stays_out_of_history():
    counterpart = CounterpartFactory()
    assert len(counterpart.webhook_secret) == 64
    assert "webhook_secret" not in {f.name for f in counterpart.history.model._meta.fields}


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"ack_deadline": timedelta(0)}, "severitylevel_ack_deadline_positive"),
        ({"decision_deadline": timedelta(minutes=-5)}, "severitylevel_decision_deadline_positive"),
        ({"automatic_consequence": "explode"}, "severitylevel_consequence_valid"),
        ({"max_reminders": 2, "reminder_interval": None}, "severitylevel_reminders_need_interval"),
    ],
)
def test_severity_level_constraints(defaults, changes, constraint):
    with violates(constraint):
        SeverityLevel.objects.filter(pk=defaults.levels["SEV4"].pk).update(**changes)


def test_one_unresolved_incident_per_grouping_key(agent, actor):
    incident = ingest(agent, actor).incident
    copy = {
        f.attname: getattr(incident, f.attname)
        for f in Incident._meta.concrete_fields
        if f.attname != "id"
    }
    with violates("incident_one_unresolved_per_key"):
        Incident.objects.create(**copy)
    Incident.objects.create(**{**copy, "state": "resolved", "resolved_at": timezone.now()})


def test_a_signal_key_is_unique_per_source(agent, actor):
    signal = ingest(agent, actor, key="k").signal
    with violates("signal_unique_source_key"):
        Signal.objects.create(
            agent=agent,
            kind="custom",
            observed_at=timezone.now(),
            source=signal.source,
            idempotency_key="k",
            fingerprint="0" * 64,
        )


def test_a_risk_acceptance_cannot_be_approved_by_its_requester(agent, actor):
    incident = ingest(agent, actor).incident
    with violates("riskacceptance_four_eyes"):
        RiskAcceptance.objects.create(
            incident=incident,
            rationale="Fine",
            expires_at=timezone.now() + timedelta(days=1),
            requested_by=actor,
            approved_by=actor,
            approved_at=timezone.now(),
            state="approved",
        )


@pytest.mark.parametrize(
    ("target", "constraint"),
    [("both", "silence_agent_xor_component"), ("none", "silence_agent_xor_component")],
)
def test_a_silence_covers_an_agent_or_a_component(actor, target, constraint):
    from trust.models import Component

    agent = AgentFactory() if target == "both" else None
    component = Component.objects.create(name="tool-y") if target == "both" else None
    now = timezone.now()
    with violates(constraint):
        Silence.objects.create(
            agent=agent,
            component=component,
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            reason="x",
            created_by=actor,
        )


def test_a_silence_ends_after_it_starts_and_says_why(agent, actor):
    now = timezone.now()
    with violates("silence_ends_after_start"):
        Silence.objects.create(
            agent=agent, starts_at=now, ends_at=now, reason="x", created_by=actor
        )
    with violates("silence_reason_required"):
        Silence.objects.create(
            agent=agent, starts_at=now, ends_at=now + timedelta(hours=1), reason="",
            created_by=actor,
        )  # fmt: skip


def test_only_one_default_route(defaults):
    with violates("routingrule_one_default"):
        RoutingRule.objects.create(name="Another default", is_default=True)


def test_a_level_notifies_known_functions_only(defaults):
    from django.core.exceptions import ValidationError

    level = defaults.levels["SEV4"]
    level.notify_functions = ["platform", "astrology"]
    with pytest.raises(ValidationError) as info:
        level.full_clean()
    assert "notify_functions" in info.value.message_dict


def test_a_control_condition_is_a_non_negative_threshold(defaults):
    from django.core.exceptions import ValidationError

    control = defaults.controls["score_drop"]
    for condition in ([100], {"threshold": -1}, {"threshold": "high"}, {"limit": 3}):
        control.condition = condition
        with pytest.raises(ValidationError):
            control.full_clean()
    control.condition = {"threshold": 50}
    control.full_clean()
