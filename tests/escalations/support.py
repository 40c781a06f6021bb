"""Helpers for the escalations tests: ingesting, snapshots of what was written."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from atoc.core.exceptions import DomainError
from escalations.services.signals import SignalOutcome, signal_ingest

_counter = iter(range(1, 10**9))


def ingest(agent, actor, *, kind="pact_breach", key=None, **overrides) -> SignalOutcome:
    """Ingest one signal with sensible defaults (a fresh key unless ``key`` is given)."""
    arguments = {
        "agent": agent,
        "kind": kind,
        "observed_at": timezone.now() - timedelta(minutes=1),
        "source": "tests",
        "idempotency_key": key or f"key-{next(_counter)}",
        "actor": actor,
    }
    return signal_ingest(**{**arguments, **overrides})


def written() -> dict[str, list[dict]]:
    """Every row of every escalations table and the agents' rows, in key order."""
    models = list(apps.get_app_config("escalations").get_models(include_auto_created=True))
    models.append(apps.get_model("trust", "Agent"))
    models.append(apps.get_model("trust", "HistoricalAgent"))
    return {m._meta.db_table: list(m._default_manager.order_by("pk").values()) for m in models}


@contextmanager
def refused(error: type[DomainError], *, field: str | None, code: str | None = None):
    """Expect exactly ``error`` naming ``field``, and nothing written or changed."""
    before = written()
    with pytest.raises(DomainError) as info:
        yield info
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    assert info.value.field == field, info.value.message
    if code is not None:
        assert info.value.code == code
    assert written() == before


def timeline_kinds(incident) -> list[str]:
    return list(incident.timeline.order_by("at", "id").values_list("kind", flat=True))
