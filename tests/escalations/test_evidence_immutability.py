"""The record of what happened cannot be changed or deleted through the admin or the API.

Signals, climbs (Escalation), decisions, timeline rows, notifications, ladder
snapshots, the trust evidence (evaluations, their results, scores) and every
historical (simple-history) model: the admin offers no change or delete for any of
them, even to a superuser, and refuses the delete and change views outright; the
API has no PUT, PATCH or DELETE for signals, incidents or evaluations.
"""

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from escalations.choices import SignalKind
from escalations.models import (
    Decision,
    Escalation,
    LadderSnapshot,
    Notification,
    Signal,
    TimelineEntry,
)
from escalations.services.incidents import incident_acknowledge, incident_decide
from escalations.services.promotion import incidents_promote_overdue
from tests.api.conftest import ALL_SCOPES, client_with_key
from tests.escalations.support import ingest
from trust.models import Evaluation, EvaluationResult, Score

pytestmark = pytest.mark.django_db

EVIDENCE = [
    Signal,
    Escalation,
    Decision,
    TimelineEntry,
    Notification,
    LadderSnapshot,
    Evaluation,
    EvaluationResult,
    Score,
]


def historical_models():
    return [m for m in apps.get_models() if m.__name__.startswith("Historical")]


@pytest.fixture
def record(agent, actor, django_capture_on_commit_callbacks):
    """One of each: a signal, its incident climbed once, acknowledged and decided."""
    from datetime import timedelta

    from django.utils import timezone

    long_ago = timezone.now() - timedelta(hours=5)
    incident = ingest(
        agent, actor, kind=SignalKind.CUSTOM, observed_at=long_ago, now=long_ago
    ).incident
    incidents_promote_overdue()
    incident.refresh_from_db()
    incident_acknowledge(incident=incident, actor=actor)
    incident_decide(incident=incident, consequence="monitor", rationale="Watch it", actor=actor)
    return incident


def test_every_evidence_and_history_model_is_read_only_in_the_admin(record, admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    checked = 0
    for model in [*EVIDENCE, *historical_models()]:
        model_admin = admin.site._registry.get(model)
        if model_admin is None:
            continue  # not in the admin at all: nothing to change there
        obj = model._default_manager.first()
        assert not model_admin.has_delete_permission(request, obj), model.__name__
        if obj is not None:
            assert not model_admin.has_change_permission(request, obj), model.__name__
        checked += 1
    assert checked >= 6
    assert not [m for m in historical_models() if m in admin.site._registry]


@pytest.mark.parametrize("model", [Signal, Escalation, Decision, TimelineEntry, Notification])
def test_the_admin_refuses_to_delete_or_change_a_record(record, admin_client, model):
    obj = model.objects.first()
    assert obj is not None, model.__name__
    opts = model._meta
    before = model.objects.filter(pk=obj.pk).values().get()

    delete = admin_client.post(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk]),
        {"post": "yes"},
    )
    change = admin_client.post(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]), {}
    )

    assert delete.status_code == 403
    assert change.status_code in (200, 403)  # a read-only view at most
    assert model.objects.filter(pk=obj.pk).values().get() == before


def test_the_api_has_no_way_to_change_or_delete_evidence(record):
    from atoc.core.services import api_key_create

    api = client_with_key(api_key_create(name="everything", scopes=ALL_SCOPES)[1])
    signal = Signal.objects.first()
    paths = [f"/api/v1/signals/{signal.pk}/", f"/api/v1/incidents/{record.pk}/"]
    for path in paths:
        for method in ("put", "patch", "delete"):
            response = getattr(api, method)(path, {}, format="json")
            assert response.status_code == 405, (method, path, response.status_code)
    assert Signal.objects.filter(pk=signal.pk).exists()
    assert Decision.objects.filter(incident=record).count() == 1
    assert Escalation.objects.filter(incident=record).count() == 1
