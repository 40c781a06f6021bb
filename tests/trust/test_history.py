"""Service writes leave history rows that say who acted and why."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import PactVersionFactory, TeamFactory
from trust.choices import DisputeOutcome, PactVersionState
from trust.services.agents import (
    agent_assign_pact_version,
    agent_create,
    agent_set_operating_state,
    agent_update,
    team_create,
)
from trust.services.disputes import dispute_open, dispute_resolve
from trust.services.evaluations import evaluation_submit
from trust.services.pacts import (
    obligation_add,
    obligation_update,
    pact_create,
    pact_version_create,
    pact_version_publish,
    pact_version_update,
)

pytestmark = pytest.mark.django_db

WEEK = timedelta(days=7)


def latest(instance):
    return instance.history.order_by("-history_id").first()


def assert_recorded(instance, *, actor, reason, history_type="~"):
    row = latest(instance)
    assert row is not None, f"no history for {instance!r}"
    assert (row.history_user, row.history_change_reason, row.history_type) == (
        actor,
        reason,
        history_type,
    )
    return row


@pytest.fixture
def version(actor):
    return PactVersionFactory()


@pytest.fixture
def registered(actor, version):
    return agent_create(
        slug="ledger-bot",
        name="Ledger bot",
        team=TeamFactory(),
        tier=1,
        pact_version=version,
        actor=actor,
        reason="Onboarded by finance",
    )


def test_team_create_is_recorded(actor):
    team = team_create(slug="engineering", name="Engineering", actor=actor)
    assert_recorded(team, actor=actor, reason="Team created", history_type="+")


def test_agent_create_is_recorded_with_its_components(actor, version):
    agent = agent_create(
        slug="triage-bot",
        name="Triage bot",
        team=TeamFactory(),
        tier=2,
        pact_version=version,
        components=["gpt-4o", "jira-tool"],
        actor=actor,
    )
    rows = list(agent.history.order_by("history_id"))
    assert [r.history_type for r in rows] == ["+", "~"]  # the row, then its components
    assert {(r.history_user, r.history_change_reason) for r in rows} == {
        (actor, "Agent registered")
    }
    assert rows[0].pact_version_id == version.pk
    assert sorted(c.component.name for c in rows[-1].components.all()) == ["gpt-4o", "jira-tool"]


def test_agent_update_is_recorded(registered, actor):
    agent_update(agent=registered, actor=actor, reason="Tier review", tier=3, name="Ledger")
    row = assert_recorded(registered, actor=actor, reason="Tier review")
    assert (row.tier, row.name) == (3, "Ledger")
    assert row.prev_record.tier == 1


def test_agent_component_change_is_recorded(registered, actor):
    agent_update(agent=registered, actor=actor, reason="Model swap", components=["claude"])
    row = assert_recorded(registered, actor=actor, reason="Model swap")
    assert [c.component.name for c in row.components.all()] == ["claude"]


def test_assigning_a_pact_version_is_recorded(registered, actor):
    newer = PactVersionFactory(pact=registered.pact_version.pact)
    agent_assign_pact_version(
        agent=registered, pact_version=newer, actor=actor, reason="Pact v2 rolled out"
    )
    row = assert_recorded(registered, actor=actor, reason="Pact v2 rolled out")
    assert row.pact_version_id == newer.pk
    assert row.prev_record.pact_version_id == registered.pact_version_id


def test_operating_state_changes_are_recorded(registered, actor):
    agent_set_operating_state(
        agent=registered, actor=actor, reason="SEV1: restrict", status="restricted", autonomy="none"
    )
    row = assert_recorded(registered, actor=actor, reason="SEV1: restrict")
    assert (row.status, row.autonomy) == ("restricted", "none")


def test_evidence_changes_no_agent_history(registered, actor):
    before = registered.history.count()
    completed = timezone.now()
    evaluation_submit(
        agent=registered,
        pact_version=registered.pact_version,
        evaluator="nightly",
        evaluator_kind="code",
        started_at=completed,
        completed_at=completed,
        results=[{"obligation": "task_success_rate", "value": 0.2}],
        actor=actor,
    )
    assert registered.history.count() == before


def test_pact_version_draft_update_and_publish_are_recorded(actor):
    pact = pact_create(slug="payouts", name="Payouts", actor=actor)
    assert_recorded(pact, actor=actor, reason="Pact created", history_type="+")
    version = pact_version_create(
        pact=pact, freshness_window=WEEK, review_cadence=WEEK, actor=actor
    )
    assert_recorded(version, actor=actor, reason="Pact version drafted", history_type="+")

    pact_version_update(pact_version=version, actor=actor, notes="Stricter")
    assert_recorded(version, actor=actor, reason="Pact version changed")

    obligation = obligation_add(
        pact_version=version,
        metric="payout_accuracy",
        comparator="gte",
        threshold=0.99,
        window=WEEK,
        actor=actor,
    )
    assert_recorded(obligation, actor=actor, reason="Obligation added", history_type="+")
    obligation_update(obligation=obligation, actor=actor, threshold=0.995)
    row = assert_recorded(obligation, actor=actor, reason="Obligation changed")
    assert row.threshold == 0.995

    pact_version_publish(pact_version=version, actor=actor)
    row = assert_recorded(version, actor=actor, reason="Pact version published")
    assert row.state == PactVersionState.PUBLISHED
    assert row.published_by_id == actor.pk


def test_obligations_created_with_a_version_are_recorded(actor):
    pact = pact_create(slug="kyc", name="KYC", actor=actor)
    version = pact_version_create(
        pact=pact,
        freshness_window=WEEK,
        review_cadence=WEEK,
        obligations=[
            {"metric": "false_accepts", "comparator": "lte", "threshold": 0.01, "window": WEEK}
        ],
        publish=True,
        actor=actor,
    )
    assert_recorded(
        version.obligations.get(), actor=actor, reason="Obligation added", history_type="+"
    )
    assert [r.history_change_reason for r in version.history.order_by("history_id")] == [
        "Pact version drafted",
        "Pact version published",
    ]


def test_dispute_open_and_resolve_are_recorded(registered, actor):
    dispute = dispute_open(
        agent=registered,
        reference="ESCROW-42",
        counterparty="Contoso",
        amount="75.00",
        currency="GBP",
        actor=actor,
    )
    assert_recorded(dispute, actor=actor, reason="Dispute opened", history_type="+")

    resolver = type(actor).objects.create(username="finance-lead")
    dispute_resolve(dispute=dispute, outcome=DisputeOutcome.AGAINST_AGENT, actor=resolver)
    row = assert_recorded(dispute, actor=resolver, reason="Dispute resolved: against_agent")
    assert (row.state, row.outcome, row.resolved_by_id) == (
        "resolved",
        "against_agent",
        resolver.pk,
    )
