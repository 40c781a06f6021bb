"""Risk acceptances: four eyes, the ladder paused while accepted, reopening on expiry."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from atoc.core.exceptions import InvalidTransition, ValidationFailed
from escalations.choices import IncidentState, RiskAcceptanceState, SignalKind, TimelineKind
from escalations.models import Notification
from escalations.services.incidents import (
    incident_acknowledge,
    incident_decide,
    incident_resolve,
)
from escalations.services.promotion import incidents_promote_overdue
from escalations.services.risk import (
    risk_acceptance_approve,
    risk_acceptance_reject,
    risk_acceptance_request,
    risk_acceptances_expire,
)
from tests.escalations.support import ingest, refused, timeline_kinds

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(agent, actor):
    return ingest(agent, actor, kind=SignalKind.PACT_BREACH).incident  # SEV3


def request(incident, actor, days=7):
    return risk_acceptance_request(
        incident=incident,
        rationale="Vendor fix ships next week",
        expires_at=timezone.now() + timedelta(days=days),
        actor=actor,
    )


def test_the_requester_cannot_approve_their_own_acceptance(incident, actor):
    acceptance = request(incident, actor)

    with refused(ValidationFailed, field="approved_by", code="same_person"):
        risk_acceptance_approve(acceptance=acceptance, actor=actor)

    acceptance.refresh_from_db()
    assert acceptance.state == RiskAcceptanceState.REQUESTED


def test_an_approved_acceptance_pauses_the_ladder_and_allows_resolving(
    incident, actor, other_actor
):
    acceptance = request(incident, actor)

    risk_acceptance_approve(acceptance=acceptance, actor=other_actor)
    risk_acceptance_approve(acceptance=acceptance, actor=other_actor)  # a no-op

    acceptance.refresh_from_db()
    assert (acceptance.state, acceptance.approved_by) == (RiskAcceptanceState.APPROVED, other_actor)
    assert acceptance.history.first().history_user == other_actor
    incident.refresh_from_db()
    assert incident.ack_due_at is None
    assert incidents_promote_overdue(now=timezone.now() + timedelta(days=3)) == 0
    assert timeline_kinds(incident).count(TimelineKind.RISK_ACCEPTED) == 1

    incident_resolve(incident=incident, actor=other_actor, note="Accepted for now")
    incident.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED and incident.decided_at is None


def test_when_it_expires_the_incident_reopens_on_its_ladder(incident, agent, actor, other_actor):
    risk_acceptance_approve(acceptance=request(incident, actor, days=2), actor=other_actor)
    incident_resolve(incident=incident, actor=other_actor)
    agent.refresh_from_db()
    assert agent.open_incident_count == 0
    later = timezone.now() + timedelta(days=2, minutes=1)

    with time_machine.travel(later, tick=False):
        assert risk_acceptances_expire() == 1
        assert risk_acceptances_expire() == 0

    incident.refresh_from_db()
    assert incident.state == IncidentState.OPEN
    assert incident.resolved_at is None and incident.acknowledged_at is None
    assert incident.ack_due_at == later + timedelta(hours=1)  # SEV3's, a fresh deadline
    assert timeline_kinds(incident)[-3:] == [
        TimelineKind.RISK_EXPIRED,
        TimelineKind.REOPENED,
        TimelineKind.NOTIFICATION_QUEUED,
    ]
    assert Notification.objects.filter(incident=incident, event="reopened").exists()
    agent.refresh_from_db()
    assert agent.open_incident_count == 1
    # and it climbs again when nobody acts
    assert incidents_promote_overdue(now=later + timedelta(hours=1)) == 1
    incident.refresh_from_db()
    assert incident.severity.name == "SEV2"


def test_an_acknowledged_incident_reopens_as_open(incident, actor, other_actor):
    incident_acknowledge(incident=incident, actor=actor)
    risk_acceptance_approve(acceptance=request(incident, actor, days=1), actor=other_actor)

    assert risk_acceptances_expire(now=timezone.now() + timedelta(days=2)) == 1

    incident.refresh_from_db()
    assert incident.state == IncidentState.OPEN and incident.ack_due_at


def test_an_incident_decided_meanwhile_does_not_reopen(incident, actor, other_actor):
    risk_acceptance_approve(acceptance=request(incident, actor, days=1), actor=other_actor)
    incident_decide(incident=incident, consequence="monitor", rationale="Watch", actor=actor)
    incident_resolve(incident=incident, actor=actor)

    assert risk_acceptances_expire(now=timezone.now() + timedelta(days=2)) == 1

    incident.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED
    assert timeline_kinds(incident)[-1] == TimelineKind.RISK_EXPIRED


def test_a_newer_open_incident_supersedes_the_reopening(incident, agent, actor, other_actor):
    acceptance = request(incident, actor, days=1)
    risk_acceptance_approve(acceptance=acceptance, actor=other_actor)
    incident_resolve(incident=incident, actor=actor)
    newer = ingest(agent, actor, kind=SignalKind.PACT_BREACH).incident

    assert risk_acceptances_expire(now=timezone.now() + timedelta(days=2)) == 1

    incident.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED
    entry = incident.timeline.filter(kind=TimelineKind.RISK_EXPIRED).get()
    assert entry.data["superseded_by"] == newer.pk


def test_an_unapproved_request_just_expires(incident, actor):
    acceptance = request(incident, actor, days=1)

    assert risk_acceptances_expire(now=timezone.now() + timedelta(days=2)) == 1

    acceptance.refresh_from_db()
    assert acceptance.state == RiskAcceptanceState.EXPIRED
    incident.refresh_from_db()
    assert incident.ack_due_at is not None  # never paused, still climbing


def test_a_request_needs_a_rationale_and_a_future_expiry(incident, actor):
    now = timezone.now()
    with refused(ValidationFailed, field="rationale"):
        risk_acceptance_request(
            incident=incident, rationale=" ", expires_at=now + timedelta(days=1), actor=actor
        )
    with refused(ValidationFailed, field="expires_at"):
        risk_acceptance_request(
            incident=incident, rationale="ok", expires_at=now - timedelta(days=1), actor=actor
        )
    with refused(ValidationFailed, field="expires_at"):
        risk_acceptance_request(
            incident=incident, rationale="ok", expires_at=now + timedelta(days=400), actor=actor
        )


def test_one_active_acceptance_per_incident(incident, actor, other_actor):
    first = request(incident, actor)
    assert (
        risk_acceptance_request(
            incident=incident,
            rationale=first.rationale,
            expires_at=first.expires_at,
            actor=actor,
        )
        == first
    )
    with refused(InvalidTransition, field="incident"):
        request(incident, other_actor, days=3)


def test_a_rejected_request_cannot_be_approved(incident, actor, other_actor):
    acceptance = request(incident, actor)
    risk_acceptance_reject(acceptance=acceptance, actor=other_actor, reason="Too risky")

    with refused(InvalidTransition, field="state"):
        risk_acceptance_approve(acceptance=acceptance, actor=other_actor)
    assert timeline_kinds(incident)[-1] == TimelineKind.RISK_ACCEPTANCE_REJECTED


def test_a_resolved_incident_has_no_risk_to_accept(incident, actor):
    incident_decide(incident=incident, consequence="monitor", rationale="ok", actor=actor)
    incident_resolve(incident=incident, actor=actor)
    with refused(InvalidTransition, field="incident"):
        request(incident, actor)


def test_evidence_raising_an_accepted_incident_does_not_restart_its_clock(
    incident, agent, actor, other_actor
):
    risk_acceptance_approve(acceptance=request(incident, actor), actor=other_actor)

    ingest(agent, actor, kind=SignalKind.PACT_BREACH, severity="SEV2")

    incident.refresh_from_db()
    assert incident.severity.name == "SEV2"
    assert (incident.ack_due_at, incident.decision_due_at) == (None, None)
    assert incidents_promote_overdue(now=timezone.now() + timedelta(days=3)) == 0
    incident.refresh_from_db()
    agent.refresh_from_db()
    assert incident.severity.name == "SEV2" and agent.status == "active"


def test_a_reopened_incident_at_the_top_is_reminded_again(agent, actor, other_actor):
    incident = ingest(agent, actor, kind=SignalKind.PACT_BREACH, severity="SEV1").incident
    start = timezone.now()
    assert incidents_promote_overdue(now=start + timedelta(minutes=6)) == 1  # reminder 1
    first = Notification.objects.filter(incident=incident, event="reminder").count()
    assert first > 0

    risk_acceptance_approve(acceptance=request(incident, actor, days=1), actor=other_actor)
    later = timezone.now() + timedelta(days=1, minutes=1)
    with time_machine.travel(later, tick=False):
        assert risk_acceptances_expire() == 1
    incident.refresh_from_db()
    assert incident.state == IncidentState.OPEN and incident.reminders_sent == 0

    assert incidents_promote_overdue(now=later + timedelta(minutes=6)) == 1
    assert Notification.objects.filter(incident=incident, event="reminder").count() == 2 * first
    assert incidents_promote_overdue(now=later + timedelta(minutes=6)) == 0  # nothing twice
