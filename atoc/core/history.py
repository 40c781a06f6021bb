"""Helpers that make every history row carry an actor and a reason.

django-simple-history reads ``_history_user`` and ``_change_reason`` from the
instance when it writes the historical row, so services set both before saving.
Rows written by jobs are attributed to the system account.
"""

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone
from simple_history.utils import get_change_reason_from_object, get_history_model_for_model

from atoc.core.bulk import insert_rows


def get_system_user():
    """The service account that jobs and detectors act as (created on first use)."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=settings.ATOC_SYSTEM_USERNAME,
        defaults={"is_active": False, "first_name": "ATOC", "last_name": "system"},
    )
    return user


def mark_history(instance: models.Model, *, actor, reason: str) -> models.Model:
    """Attach the actor and the reason to the next history row of ``instance``."""
    instance._history_user = actor
    instance._change_reason = reason[:100]
    return instance


def save_with_history(
    instance: models.Model, *, actor, reason: str, update_fields: list[str] | None = None
) -> models.Model:
    """Save ``instance`` (only ``update_fields`` when given) with actor and reason."""
    mark_history(instance, actor=actor, reason=reason)
    if update_fields is None:
        instance.save()
    else:
        instance.save(update_fields=update_fields)
    return instance


def history_insert_bulk(
    instances: Iterable[models.Model],
    *,
    update: bool,
    default_user=None,
    default_reason: str = "",
) -> None:
    """Write one history row per instance, as ``bulk_history_create`` does, in one insert.

    The rows hold what simple-history's ``bulk_history_create`` writes (every
    tracked field, ``+`` for a creation or ``~`` for an update, the instance's
    ``_history_user`` and ``_change_reason`` or the defaults), without building a
    historical model instance per row. For instances of one history-tracked model
    that are already saved.
    """
    if not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return
    instances = list(instances)
    if not instances:
        return
    history_model = get_history_model_for_model(type(instances[0]))
    tracked = [field.attname for field in history_model.tracked_fields]
    history_type = "~" if update else "+"
    now = timezone.now()
    rows = []
    for instance in instances:
        user = getattr(
            instance,
            "_history_user",
            default_user or history_model.get_default_history_user(instance),
        )
        rows.append(
            (
                getattr(instance, "_history_date", now),
                getattr(user, "pk", None),
                get_change_reason_from_object(instance) or default_reason,
                history_type,
                *(getattr(instance, attname) for attname in tracked),
            )
        )
    m2m_fields = getattr(history_model, "_history_m2m_fields", None) or []
    history_ids = insert_rows(
        history_model,
        fields=["history_date", "history_user", "history_change_reason", "history_type", *tracked],
        rows=rows,
        returning=bool(m2m_fields),
    )
    for field in m2m_fields:
        _m2m_history_insert(history_model, field, instances, history_ids)


def _m2m_history_insert(history_model, field, instances: list, history_ids: list) -> None:
    """The links each history row records for a tracked many-to-many field.

    What simple-history writes after saving a historical record of a model with
    ``m2m_fields``: a copy of every through row of the instance, pointing at it.
    """
    through = field.remote_field.through
    through_fields = list(through._meta.concrete_fields)
    m2m_history_model = next(
        rel.related_model
        for rel in history_model._meta.related_objects
        if rel.field.name == "history"
        and {f.name for f in through_fields}
        <= {f.name for f in rel.related_model._meta.concrete_fields}
    )
    own = field.m2m_field_name()
    owner_at = [f.name for f in through_fields].index(own)
    links: dict = {}
    rows = through._base_manager.filter(**{f"{own}__in": {i.pk for i in instances}})
    for row in rows.values_list(*(f.attname for f in through_fields)):
        links.setdefault(row[owner_at], []).append(row)
    insert_rows(
        m2m_history_model,
        fields=["history", *(f.attname for f in through_fields)],
        rows=[
            (history_id, *link)
            for instance, history_id in zip(instances, history_ids, strict=True)
            for link in links.get(instance.pk, [])
        ],
    )
