"""The Celery tasks: each calls its service, records a heartbeat; the schedules installed."""

from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from atoc.core.models import IdempotencyRecord
from config.celery import app as celery_app
from escalations import tasks
from escalations.choices import IncidentState, NotificationState, SignalKind
from escalations.models import Incident, JobHeartbeat, Notification, Signal
from escalations.schedules import PERIODIC_JOBS, install_schedules
from escalations.selectors import audit_report_latest, heartbeats_status
from escalations.services.risk import risk_acceptance_approve, risk_acceptance_request
from tests.escalations.support import ingest
from trust.models import Agent

pytestmark = pytest.mark.django_db

TASKS = {
    "escalations.check_freshness": tasks.check_freshness_task,
    "escalations.promote_overdue": tasks.promote_overdue_incidents_task,
    "escalations.deliver_notifications": tasks.deliver_notifications_task,
    "escalations.expire_risk_acceptances": tasks.expire_risk_acceptances_task,
    "escalations.audit": tasks.audit_task,
    "escalations.purge_idempotency_records": tasks.purge_idempotency_records_task,
}


def heartbeat(job: str) -> JobHeartbeat:
    return JobHeartbeat.objects.get(job=job)


def assert_one_clean_run(job: str, result: dict) -> JobHeartbeat:
    beat = heartbeat(job)
    assert (beat.runs, beat.failures, beat.last_error) == (1, 0, "")
    assert beat.last_result == result
    assert beat.last_started_at <= beat.last_finished_at
    return beat


# --- the tasks ----------------------------------------------------------------------


def test_every_task_is_registered_by_its_fixed_name_with_time_limits():
    for name, task in TASKS.items():
        registered = celery_app.tasks[name]
        assert task.name == registered.name == name
        assert registered.time_limit and registered.soft_time_limit < registered.time_limit
    assert {job.task for job in PERIODIC_JOBS} == set(TASKS)


def test_check_freshness_signals_stale_agents_and_records_a_heartbeat(agent):
    Agent.objects.filter(pk=agent.pk).update(evaluation_due_at=timezone.now() - timedelta(hours=1))

    result = tasks.check_freshness_task()

    assert result == {"signals": 1}
    assert Signal.objects.get().kind == SignalKind.EVALUATION_STALE
    assert_one_clean_run("escalations.check_freshness", result)
    assert tasks.check_freshness_task() == {"signals": 0}  # the second run adds nothing
    assert heartbeat("escalations.check_freshness").runs == 2


def test_promote_overdue_climbs_incidents_past_their_deadline(agent, actor):
    incident = ingest(agent, actor, kind=SignalKind.CUSTOM).incident  # SEV4, 4 h to acknowledge

    with time_machine.travel(timezone.now() + timedelta(hours=4, minutes=1), tick=False):
        result = tasks.promote_overdue_incidents_task()

    incident.refresh_from_db()
    assert result == {"promoted": 1} and incident.severity.name == "SEV3"
    assert_one_clean_run("escalations.promote_overdue", result)


def test_deliver_notifications_sends_the_outbox(agent, actor, mailoutbox):
    incident = ingest(agent, actor, kind=SignalKind.PACT_BREACH).incident
    queued = incident.notifications.count()

    result = tasks.deliver_notifications_task()

    assert result == {"sent": queued, "retried": 0, "failed": 0} and len(mailoutbox) == queued
    assert set(Notification.objects.values_list("state", flat=True)) == {NotificationState.SENT}
    assert_one_clean_run("escalations.deliver_notifications", result)


def test_expire_risk_acceptances_reopens_the_incident(agent, actor, other_actor):
    incident = ingest(agent, actor).incident
    acceptance = risk_acceptance_request(
        incident=incident,
        rationale="Vendor fix ships tomorrow",
        expires_at=timezone.now() + timedelta(days=1),
        actor=actor,
    )
    risk_acceptance_approve(acceptance=acceptance, actor=other_actor)

    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1), tick=False):
        result = tasks.expire_risk_acceptances_task()

    acceptance.refresh_from_db()
    incident.refresh_from_db()
    assert result == {"expired": 1} and acceptance.state == "expired"
    assert incident.state == IncidentState.OPEN and incident.ack_due_at is not None
    assert_one_clean_run("escalations.expire_risk_acceptances", result)


def test_purge_deletes_idempotency_records_past_their_retention(settings):
    settings.ATOC_IDEMPOTENCY_RETENTION_HOURS = 24
    now = timezone.now()
    for key, age in (("old", timedelta(hours=25)), ("recent", timedelta(hours=23))):
        IdempotencyRecord.objects.create(
            client="key:1", key=key, method="POST", path="/api/v1/signals/",
            fingerprint="f" * 64, created_at=now - age,
        )  # fmt: skip

    result = tasks.purge_idempotency_records_task()

    assert result == {"deleted": 1}
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
    assert_one_clean_run("escalations.purge_idempotency_records", result)


def test_a_failing_job_records_its_error_and_still_fails(monkeypatch):
    def broken():
        raise RuntimeError("database went away")

    monkeypatch.setattr(tasks, "incidents_promote_overdue", broken)

    with pytest.raises(RuntimeError):
        tasks.promote_overdue_incidents_task()

    beat = heartbeat("escalations.promote_overdue")
    assert (beat.runs, beat.failures) == (1, 1)
    assert beat.last_error == "RuntimeError: database went away"
    assert beat.last_result == {}


def test_a_task_runs_through_celery_eagerly_too(agent, actor):
    ingest(agent, actor, kind=SignalKind.CUSTOM)

    outcome = celery_app.tasks["escalations.deliver_notifications"].apply()

    assert outcome.successful() and outcome.result["sent"] == 1
    assert heartbeat("escalations.deliver_notifications").runs == 1


# --- the auditor and the heartbeats --------------------------------------------------


def run_every_job():
    for task in TASKS.values():
        task()


def test_the_audit_is_healthy_when_every_job_ran_and_nothing_is_overdue(agent, actor):
    ingest(agent, actor)  # due in an hour: not late
    run_every_job()

    report = tasks.audit_task()

    assert report["healthy"] is True
    assert report["overdue_incidents"] == 0 and report["late_jobs"] == []
    assert {job["job"] for job in report["jobs"]} == set(TASKS)
    assert report == audit_report_latest()  # kept on the auditor's heartbeat
    assert heartbeat("escalations.audit").last_result == report


def test_the_audit_reports_incidents_the_sweeper_missed_and_jobs_that_stopped(agent, actor):
    incident = ingest(agent, actor, kind=SignalKind.CUSTOM).incident  # due in 4 h
    with time_machine.travel(incident.ack_due_at - timedelta(minutes=3), tick=False):
        run_every_job()

    # Six minutes later nothing has run again, and the incident is 3 minutes overdue.
    with time_machine.travel(incident.ack_due_at + timedelta(minutes=3), tick=False):
        report = tasks.audit_task()

    assert report["healthy"] is False
    assert report["promotion_grace_seconds"] == 120  # two promotion intervals
    assert report["overdue_incidents"] == 1
    assert report["overdue_incident_ids"] == [incident.pk]
    assert report["oldest_overdue_due_at"] == incident.ack_due_at.isoformat()
    # The one-minute jobs are late; the 5-minute and daily ones not yet; the
    # auditor has just started itself.
    assert report["late_jobs"] == [
        "escalations.promote_overdue",
        "escalations.deliver_notifications",
    ]
    assert audit_report_latest()["overdue_incident_ids"] == [incident.pk]


def test_an_incident_within_two_intervals_of_its_deadline_is_not_reported(agent, actor):
    incident = ingest(agent, actor, kind=SignalKind.CUSTOM).incident

    with time_machine.travel(incident.ack_due_at + timedelta(seconds=119), tick=False):
        report = tasks.audit_task()

    assert report["overdue_incidents"] == 0


def test_heartbeats_status_says_which_jobs_are_late():
    now = timezone.now()
    JobHeartbeat.objects.create(
        job="escalations.promote_overdue",
        last_started_at=now - timedelta(minutes=3),
        last_finished_at=now - timedelta(minutes=3),
        runs=10,
    )
    JobHeartbeat.objects.create(
        job="escalations.check_freshness",
        last_started_at=now - timedelta(minutes=6),
        runs=3,
    )

    status = {s.job: s for s in heartbeats_status(now=now)}

    promote = status["escalations.promote_overdue"]
    assert promote.interval == timedelta(minutes=1) and promote.scheduled
    assert promote.late and promote.late_since == now - timedelta(minutes=1)
    freshness = status["escalations.check_freshness"]
    assert freshness.interval == timedelta(minutes=5)
    assert not freshness.late and freshness.running  # started, not finished yet
    never = status["escalations.purge_idempotency_records"]
    assert never.last_started_at is None and never.as_dict()["interval_seconds"] == 86400
    assert not never.late  # installed moments ago: its scheduler has not had a chance yet


def test_a_job_that_never_ran_is_late_two_intervals_after_its_schedule_was_installed():
    installed = timezone.now()
    PeriodicTask.objects.filter(task="escalations.promote_overdue").update(start_time=installed)
    promotion = [job for job in PERIODIC_JOBS if job.task == "escalations.promote_overdue"]

    (just_installed,) = heartbeats_status(now=installed + timedelta(seconds=119), jobs=promotion)
    (forgotten,) = heartbeats_status(now=installed + timedelta(seconds=121), jobs=promotion)

    assert not just_installed.late and just_installed.last_started_at is None
    assert forgotten.late and forgotten.late_since == installed + timedelta(minutes=2)


def test_heartbeats_status_follows_the_schedule_edited_in_the_admin():
    now = timezone.now()
    JobHeartbeat.objects.create(
        job="escalations.promote_overdue", last_started_at=now - timedelta(minutes=3)
    )
    slower, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.filter(task="escalations.promote_overdue").update(interval=slower)
    PeriodicTask.objects.filter(task="escalations.audit").update(enabled=False)

    status = {s.job: s for s in heartbeats_status(now=now)}

    assert status["escalations.promote_overdue"].interval == timedelta(minutes=5)
    assert not status["escalations.promote_overdue"].late
    assert not status["escalations.audit"].scheduled and not status["escalations.audit"].late


# --- the schedules --------------------------------------------------------------------


EXPECTED_SCHEDULES = {
    "escalations.check_freshness": (5, "minutes"),
    "escalations.promote_overdue": (1, "minutes"),
    "escalations.deliver_notifications": (1, "minutes"),
    "escalations.expire_risk_acceptances": (5, "minutes"),
    "escalations.audit": (1, "minutes"),
    "escalations.purge_idempotency_records": (1, "days"),
}


def test_the_migration_installed_every_job_as_an_interval_schedule():
    periodic = PeriodicTask.objects.filter(task__in=list(TASKS)).select_related("interval")

    installed = {t.task: (t.interval.every, t.interval.period) for t in periodic}
    assert installed == EXPECTED_SCHEDULES
    for task in periodic:
        assert task.enabled and task.crontab_id is None and task.start_time is not None
        assert task.expire_seconds == max(task.interval.every * {"minutes": 60, "days": 86400}[
            task.interval.period
        ], 60)  # fmt: skip
        assert task.args == "[]" and task.kwargs == "{}"


def test_installing_the_schedules_again_changes_nothing_an_operator_edited():
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.filter(task="escalations.check_freshness").update(interval=hourly)
    before = PeriodicTask.objects.count()

    assert install_schedules(apps) == 0

    assert PeriodicTask.objects.count() == before
    freshness = PeriodicTask.objects.get(task="escalations.check_freshness")
    assert (freshness.interval.every, freshness.interval.period) == (1, "hours")
    PeriodicTask.objects.filter(task="escalations.audit").delete()
    assert install_schedules(apps) == 1
    assert PeriodicTask.objects.get(task="escalations.audit").interval.every == 1


def test_incidents_overdue_count_ignores_resolved_ones(agent, actor):
    incident = ingest(agent, actor, kind=SignalKind.CUSTOM).incident
    Incident.objects.filter(pk=incident.pk).update(
        state=IncidentState.RESOLVED, resolved_at=timezone.now()
    )

    with time_machine.travel(incident.ack_due_at + timedelta(hours=1), tick=False):
        assert tasks.audit_task()["overdue_incidents"] == 0


def test_heartbeats_status_and_the_installer_serve_other_apps_jobs_too():
    from escalations.schedules import PeriodicJob

    report = PeriodicJob(
        task="tests.nightly_report", name="Nightly report", every=1, period="days", description=""
    )
    now = timezone.now()

    assert install_schedules(apps, jobs=[report]) == 1
    JobHeartbeat.objects.create(job=report.task, last_started_at=now - timedelta(hours=30))

    (status,) = heartbeats_status(now=now, jobs=[report])
    assert status.job == "tests.nightly_report" and status.scheduled
    assert status.interval == timedelta(days=1) and not status.late
