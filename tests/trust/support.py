"""Helpers for the trust domain tests: refusals that write nothing, database constraints."""

from contextlib import contextmanager

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction

from atoc.core.exceptions import DomainError


def trust_snapshot() -> dict[str, list[dict]]:
    """Every row of every trust table (history and m2m tables included), in key order."""
    models = apps.get_app_config("trust").get_models(include_auto_created=True)
    return {m._meta.db_table: list(m._default_manager.order_by("pk").values()) for m in models}


@contextmanager
def refused(error: type[DomainError], *, field: str | None):
    """Expect exactly ``error`` naming ``field``, and no trust row written or changed."""
    before = trust_snapshot()
    with pytest.raises(DomainError) as info:
        yield info
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    assert info.value.field == field, info.value.message
    assert trust_snapshot() == before


@contextmanager
def violates(constraint: str, *, prefix: bool = False):
    """Expect the database to reject a write with ``constraint`` (by name or name prefix)."""
    with pytest.raises(IntegrityError) as info, transaction.atomic():
        yield
    name = info.value.__cause__.diag.constraint_name
    if prefix:
        assert name.startswith(constraint), name
    else:
        assert name == constraint
