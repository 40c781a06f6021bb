"""The promotion sweep: climbing the ladder when nobody acts, reminders, snapshots, locks."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalations.choices import EscalationReason, IncidentState, SignalKind, TimelineKind
from escalations.models import Escalation, Incident, Notification
from escalations.services.incidents import incident_acknowledge, incident_decide
from escalations.services.promotion import incidents_promote_overdue
from tests.escalations.support import ingest, timeline_kinds
from tests.factories import AgentFactory, UserFactory
from trust.choices import AgentAutonomy, AgentStatus

pytestmark = pytest.mark.django_db


class Clock:
    """Move time forward and run the sweep, as the scheduler would."""

    def __init__(self, start):
        self.now = start
        self._traveller = time_machine.travel(start, tick=False)
        self._traveller.start()

    def advance(self, **delta) -> int:
        self.now += timedelta(**delta)
        self._traveller.stop()
        self._traveller = time_machine.travel(self.now, tick=False)
        self._traveller.start()
        return incidents_promote_overdue()

    def stop(self):
        self._traveller.stop()


@pytest.fixture
def clock():
    c = Clock(timezone.now().replace(microsecond=0))
    yield c
    c.stop()


def severity(incident) -> str:
    incident.refresh_from_db()
    return incident.severity.name


def test_an_unacknowledged_incident_climbs_the_whole_ladder(clock, agent, actor):
    incident = ingest(agent, actor, kind=SignalKind.CUSTOM).incident  # opens at SEV4
    assert incident.ack_due_at == clock.now + timedelta(hours=4)

    assert clock.advance(hours=3, minutes=59) == 0
    assert severity(incident) == "SEV4"
    assert clock.advance(minutes=1) == 1
    assert severity(incident) == "SEV3"
    assert incident.ack_due_at == clock.now + timedelta(hours=1)
    assert clock.advance(hours=1) == 1
    assert severity(incident) == "SEV2"
    assert incident.ack_due_at == clock.now + timedelta(minutes=15)
    agent.refresh_from_db()
    assert agent.status == AgentStatus.ACTIVE
    assert clock.advance(minutes=15) == 1
    assert severity(incident) == "SEV1"

    # SEV1's automatic consequence, applied by the system
    agent.refresh_from_db()
    assert (agent.status, agent.autonomy) == (AgentStatus.RESTRICTED, AgentAutonomy.HUMAN_IN_LOOP)
    assert (agent.highest_open_severity, agent.highest_open_severity_rank) == ("SEV1", 4)
    applied = incident.timeline.get(kind=TimelineKind.CONSEQUENCE_APPLIED)
    assert applied.data["automatic"] and applied.data["level"] == "SEV1"
    assert applied.actor.username == "atoc-system"
    assert agent.history.first().history_user.username == "atoc-system"

    escalations = list(incident.escalations.order_by("at"))
    assert [(e.from_severity.name, e.to_severity.name, e.reason) for e in escalations] == [
        ("SEV4", "SEV3", EscalationReason.DEADLINE_PASSED),
        ("SEV3", "SEV2", EscalationReason.DEADLINE_PASSED),
        ("SEV2", "SEV1", EscalationReason.DEADLINE_PASSED),
    ]
    assert all(e.notified for e in escalations)
    promoted_to = [row.data["to"] for row in incident.timeline.filter(kind=TimelineKind.PROMOTED)]
    assert promoted_to == ["SEV3", "SEV2", "SEV1"]
    assert set(incident.notifications.values_list("event", flat=True)) == {"opened", "promoted"}
    # SEV1 tells the business function too
    assert incident.notifications.filter(
        event="promoted", counterpart__function="business"
    ).exists()


def test_at_the_top_reminders_repeat_a_bounded_number_of_times(clock, agent, actor):
    incident = ingest(agent, actor, kind=SignalKind.INCIDENT_FLAG).incident  # SEV2
    clock.advance(minutes=15)
    assert severity(incident) == "SEV1"

    assert clock.advance(minutes=5) == 1  # reminder 1
    incident.refresh_from_db()
    assert incident.ack_due_at == clock.now + timedelta(minutes=15)
    assert clock.advance(minutes=15) == 1  # reminder 2
    assert clock.advance(minutes=15) == 1  # reminder 3: the last one
    incident.refresh_from_db()
    assert incident.reminders_sent == 3 and incident.ack_due_at is None
    for _ in range(4):
        assert clock.advance(hours=6) == 0

    reminders = incident.escalations.filter(reason=EscalationReason.REMINDER)
    assert reminders.count() == 3
    assert {(e.from_severity.name, e.to_severity.name) for e in reminders} == {("SEV1", "SEV1")}
    assert [row.data["number"] for row in incident.timeline.filter(kind=TimelineKind.REMINDED)] == [
        1,
        2,
        3,
    ]
    counterparts = incident.notifications.filter(event="promoted").count()
    assert incident.notifications.filter(event="reminder").count() == 3 * counterparts
    assert incident.state == IncidentState.OPEN


def test_acknowledging_is_not_deciding(clock, agent, actor):
    incident = ingest(agent, actor, kind=SignalKind.PACT_BREACH).incident  # SEV3
    incident_acknowledge(incident=incident, actor=actor)
    incident.refresh_from_db()
    assert incident.decision_due_at == clock.now + timedelta(days=1)

    assert clock.advance(hours=23) == 0
    assert clock.advance(hours=1) == 1

    incident.refresh_from_db()
    assert incident.severity.name == "SEV2"
    assert incident.state == IncidentState.ACKNOWLEDGED
    assert incident.decision_due_at == clock.now + timedelta(hours=4)
    (escalation,) = incident.escalations.all()
    assert escalation.reason == EscalationReason.DECISION_OVERDUE


def test_decided_and_resolved_incidents_do_not_climb(clock, agent, actor):
    incident = ingest(agent, actor).incident
    incident_decide(incident=incident, consequence="monitor", rationale="ok", actor=actor)

    assert clock.advance(days=30) == 0
    assert severity(incident) == "SEV3"


def test_running_the_sweep_twice_promotes_once(clock, agent, actor):
    incident = ingest(agent, actor).incident
    clock.now += timedelta(hours=2)

    assert incidents_promote_overdue(now=clock.now) == 1
    assert incidents_promote_overdue(now=clock.now) == 0

    assert severity(incident) == "SEV2"
    assert incident.escalations.count() == 1


def test_ladder_edits_after_opening_do_not_change_an_open_incidents_climb(
    clock, agent, actor, defaults
):
    incident = ingest(agent, actor, kind=SignalKind.CUSTOM).incident  # SEV4, snapshot taken
    for name in ("SEV4", "SEV3"):
        level = defaults.levels[name]
        level.ack_deadline = timedelta(days=10)
        level.save()
    later = ingest(AgentFactory(), actor, kind=SignalKind.CUSTOM).incident
    assert later.ladder_id != incident.ladder_id
    same_time = ingest(AgentFactory(), actor, kind=SignalKind.CUSTOM).incident
    assert same_time.ladder_id == later.ladder_id  # one stored snapshot per ladder

    assert clock.advance(hours=4) == 1  # the snapshot's 4 hours, not 10 days
    assert severity(incident) == "SEV3"
    assert incident.ack_due_at == clock.now + timedelta(hours=1)  # the snapshot's SEV3
    assert severity(later) == "SEV4"
    assert later.ack_due_at == later.opened_at + timedelta(days=10)


def test_a_level_added_after_opening_is_not_on_an_open_incidents_ladder(
    clock, agent, actor, defaults
):
    from escalations.models import SeverityLevel

    incident = ingest(agent, actor, kind=SignalKind.INCIDENT_FLAG).incident  # SEV2
    SeverityLevel.objects.create(
        name="SEV0", rank=5, ack_deadline=timedelta(minutes=1),
        decision_deadline=timedelta(minutes=30),
    )  # fmt: skip

    clock.advance(minutes=15)
    assert severity(incident) == "SEV1"
    clock.advance(minutes=5)
    assert severity(incident) == "SEV1"  # reminded, not promoted to SEV0
    assert incident.escalations.filter(reason=EscalationReason.REMINDER).count() == 1


def test_a_large_backlog_is_swept_in_batches(clock, actor):
    incidents = [ingest(AgentFactory(), actor).incident for _ in range(7)]
    clock.now += timedelta(hours=1)

    assert incidents_promote_overdue(now=clock.now, batch_size=3) == 7

    assert {severity(i) for i in incidents} == {"SEV2"}


def _sweep_queries(clock, actor, count: int) -> int:
    for _ in range(count):
        ingest(AgentFactory(), actor, kind=SignalKind.CUSTOM)
    clock.now += timedelta(hours=4)
    with CaptureQueriesContext(connection) as ctx:
        assert incidents_promote_overdue(now=clock.now) == count
    return len(ctx.captured_queries)


def test_a_batch_costs_the_same_number_of_queries_for_2_or_20_incidents(clock, actor):
    incidents_promote_overdue()  # the system user exists before counting
    small = _sweep_queries(clock, actor, 2)
    Incident.objects.update(state=IncidentState.RESOLVED, resolved_at=timezone.now())
    assert _sweep_queries(clock, actor, 20) == small


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_promote_each_incident_exactly_once(defaults):
    actor = UserFactory()
    incidents = [ingest(AgentFactory(), actor).incident for _ in range(40)]
    now = timezone.now() + timedelta(hours=2)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def sweep():
        try:
            barrier.wait()
            results.append(incidents_promote_overdue(now=now, batch_size=5))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(results) == 40
    assert Escalation.objects.count() == 40
    assert {severity(i) for i in incidents} == {"SEV2"}
    promoted = [
        kinds.count(TimelineKind.PROMOTED) for kinds in (timeline_kinds(i) for i in incidents)
    ]
    assert promoted == [1] * 40
    keys = list(Notification.objects.values_list("dedupe_key", flat=True))
    assert len(keys) == len(set(keys))


def test_the_auditor_sees_incidents_the_sweep_missed(clock, agent, actor):
    from escalations.selectors import incidents_promotion_late

    incident = ingest(agent, actor).incident  # SEV3: due in an hour
    grace = timedelta(minutes=2)

    assert not incidents_promotion_late(now=clock.now + timedelta(hours=1), grace=grace).exists()
    late = incidents_promotion_late(now=clock.now + timedelta(hours=1, minutes=3), grace=grace)
    assert list(late) == [incident]
