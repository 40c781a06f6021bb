"""The roles migration, the center's periodic tasks and their schedules."""

from django.apps import apps
from django.contrib.auth.models import Group
from django_celery_beat.models import PeriodicTask

from atoc.center import tasks
from atoc.center.roles import ADMIN, OPERATOR, VIEWER, install_roles
from atoc.center.schedules import CENTER_JOBS, install_schedules
from escalations.models import JobHeartbeat
from tests.center.support import agent_on, incident
from tests.factories import TeamFactory


def perms(name):
    return set(
        Group.objects.get(name=name).permissions.values_list("content_type__app_label", "codename")
    )


def test_roles_exist_with_the_permissions_of_each(db):
    viewer, operator, admin = perms(VIEWER), perms(OPERATOR), perms(ADMIN)
    assert ("escalations", "view_incident") in viewer
    assert ("center", "view_systemicissue") in viewer
    assert all(codename.startswith("view_") for _, codename in viewer)
    assert {("escalations", "change_incident"), ("trust", "change_agent")} <= operator
    assert ("escalations", "change_severitylevel") not in operator
    assert {("escalations", "change_severitylevel"), ("core", "add_apikey")} <= admin
    assert viewer < operator < admin


def test_installing_the_roles_again_changes_nothing(db):
    before = {name: perms(name) for name in (VIEWER, OPERATOR, ADMIN)}
    assert install_roles(apps) == {VIEWER: 0, OPERATOR: 0, ADMIN: 0}
    assert Group.objects.filter(name__in=before).count() == 3
    assert {name: perms(name) for name in before} == before


def test_the_schedules_are_installed_daily_for_the_snapshot(db):
    task = PeriodicTask.objects.get(task="center.snapshot_metrics")
    assert (task.interval.every, task.interval.period) == (1, "days")
    assert task.enabled
    assert install_schedules(apps) == 0
    assert PeriodicTask.objects.filter(task__in=[j.task for j in CENTER_JOBS]).count() == 3


def test_each_task_runs_its_service_between_heartbeats(actor):
    teams = [TeamFactory() for _ in range(3)]
    for team in teams:
        incident(agent_on(team, "model:shared"), actor)
        agent_on(team, "model:other")
    assert tasks.propose_systemic_issues_task()["proposed"]
    assert len(tasks.schedule_reviews_task()["opened"]) == 3
    assert tasks.snapshot_metrics_task()["rows"] > 0
    beats = {b.job: b for b in JobHeartbeat.objects.filter(job__startswith="center.")}
    assert set(beats) == {j.task for j in CENTER_JOBS}
    assert all(b.runs == 1 and b.last_finished_at and not b.last_error for b in beats.values())
