"""Reference data of the ladder and the routing: severity levels, controls, counterparts, rules.

These are plain validated saves (no workflow): the model's field rules and
database constraints are checked before writing and a refusal names the field; a
name or rank that is taken, a second enabled control for a kind or a second
default rule is a conflict (409). Every save writes a history row with the actor
and the reason. Editing the ladder or the routing changes only incidents opened
afterwards: open incidents climb on the snapshot they took when they opened.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, models, transaction

from atoc.core.exceptions import AlreadyExists, ValidationFailed
from atoc.core.history import mark_history, save_with_history
from atoc.core.validation import clean_or_raise
from escalations.exceptions import ConfigurationConflict
from escalations.models import Control, Counterpart, RoutingRule, SeverityLevel

# Columns that are unique on their own (a taken value is 409 on that field).
UNIQUE_FIELDS: dict[type[models.Model], tuple[str, ...]] = {
    SeverityLevel: ("name", "rank"),
    Control: ("name",),
    Counterpart: ("name",),
    RoutingRule: ("name",),
}
ROUTING_CRITERIA = ("kind", "team", "tier", "min_severity")


# --- severity levels -----------------------------------------------------------------


@transaction.atomic
def severity_level_create(
    *, actor, reason: str = "Severity level created", **values
) -> SeverityLevel:
    """Add a level to the ladder (``values`` are SeverityLevel fields)."""
    return _save(SeverityLevel(**values), actor=actor, reason=reason)


@transaction.atomic
def severity_level_update(
    *, level: SeverityLevel, actor, reason: str = "Severity level updated", **changes
) -> SeverityLevel:
    """Change a level; incidents already open keep climbing on their snapshot."""
    level = SeverityLevel.objects.select_for_update().get(pk=level.pk)
    return _update(level, changes, actor=actor, reason=reason)


# --- controls ------------------------------------------------------------------------


@transaction.atomic
def control_create(*, actor, reason: str = "Control created", **values) -> Control:
    """Create a control; without an owner or a consequence it is refused, naming the field."""
    return _save(Control(**values), actor=actor, reason=reason)


@transaction.atomic
def control_update(
    *, control: Control, actor, reason: str = "Control updated", **changes
) -> Control:
    """Change a control (at most one enabled control per signal kind)."""
    control = Control.objects.select_for_update().get(pk=control.pk)
    return _update(control, changes, actor=actor, reason=reason)


# --- counterparts --------------------------------------------------------------------


@transaction.atomic
def counterpart_create(*, actor, reason: str = "Counterpart created", **values) -> Counterpart:
    """Create a counterpart (reachable by email or webhook; its webhook secret is generated)."""
    return _save(Counterpart(**values), actor=actor, reason=reason)


@transaction.atomic
def counterpart_update(
    *, counterpart: Counterpart, actor, reason: str = "Counterpart updated", **changes
) -> Counterpart:
    """Change a counterpart's name, function, team or how to reach it."""
    counterpart = Counterpart.objects.select_for_update().get(pk=counterpart.pk)
    return _update(counterpart, changes, actor=actor, reason=reason)


# --- routing rules -------------------------------------------------------------------


@transaction.atomic
def routing_rule_create(
    *,
    actor,
    counterparts: Iterable[Counterpart] = (),
    reason: str = "Routing rule created",
    **values,
) -> RoutingRule:
    """Create a routing rule and route it to ``counterparts``."""
    rule = _save(RoutingRule(**values), actor=actor, reason=reason)
    _set_counterparts(rule, counterparts, actor=actor, reason=reason)
    return rule


@transaction.atomic
def routing_rule_update(
    *,
    rule: RoutingRule,
    actor,
    counterparts: Iterable[Counterpart] | None = None,
    reason: str = "Routing rule updated",
    **changes,
) -> RoutingRule:
    """Change a rule's criteria, order or counterparts.

    The default rule (the fallback when nothing else matches) takes no criteria:
    giving it one is a conflict.
    """
    rule = RoutingRule.objects.select_for_update().get(pk=rule.pk)
    if rule.is_default:
        named = [name for name in ROUTING_CRITERIA if changes.get(name) not in (None, "")]
        if named:
            raise ConfigurationConflict(
                f"{rule.name!r} is the default rule, the fallback when no other rule "
                "matches; it takes no criteria.",
                field=named[0],
            )
    rule = _update(rule, changes, actor=actor, reason=reason)
    if counterparts is not None:
        _set_counterparts(rule, counterparts, actor=actor, reason=reason)
    return rule


def _set_counterparts(rule: RoutingRule, counterparts, *, actor, reason: str) -> None:
    wanted = sorted({c.pk for c in counterparts})
    current = sorted(rule.counterparts.values_list("pk", flat=True))
    if wanted != current:
        mark_history(rule, actor=actor, reason=reason)
        rule.counterparts.set(wanted)


# --- shared --------------------------------------------------------------------------


def _update(instance: models.Model, changes: dict, *, actor, reason: str):
    changed = []
    for name, value in changes.items():
        field = instance._meta.get_field(name)
        if getattr(instance, field.attname) != _raw(field, value):
            setattr(instance, name, value)
            changed.append(field.name)
    if not changed:
        return instance
    return _save(instance, actor=actor, reason=reason, update_fields=changed)


def _raw(field, value):
    if field.is_relation:
        return value.pk if isinstance(value, models.Model) else value
    return value


def _save(instance: models.Model, *, actor, reason: str, update_fields=None):
    if isinstance(instance, Counterpart) and not (instance.email or instance.webhook_url):
        raise ValidationFailed(
            "Give an email address or a webhook URL: a counterpart must be reachable.",
            field="email",
        )
    _refuse_conflicts(instance)
    clean_or_raise(instance)
    try:
        with transaction.atomic():  # a savepoint: a lost race becomes a clear refusal
            save_with_history(instance, actor=actor, reason=reason, update_fields=update_fields)
    except IntegrityError:
        raise ConfigurationConflict(
            f"Another {instance._meta.verbose_name} with these values was saved meanwhile; "
            "read it and try again."
        ) from None
    return instance


def _refuse_conflicts(instance: models.Model) -> None:
    model = type(instance)
    noun = model._meta.verbose_name
    others = model.objects.exclude(pk=instance.pk) if instance.pk else model.objects.all()
    for name in UNIQUE_FIELDS[model]:
        value = getattr(instance, name)
        if value not in (None, "") and others.filter(**{name: value}).exists():
            raise AlreadyExists(f"A {noun} with {name} {value!r} already exists.", field=name)
    if (
        isinstance(instance, Control)
        and instance.enabled
        and others.filter(enabled=True, signal_kind=instance.signal_kind).exists()
    ):
        raise ConfigurationConflict(
            f"An enabled control for {instance.signal_kind!r} signals exists already; "
            "disable it first (one enabled control per kind keeps matching unambiguous).",
            field="enabled",
        )
    if (
        isinstance(instance, RoutingRule)
        and instance.is_default
        and others.filter(is_default=True).exists()
    ):
        raise ConfigurationConflict("A default routing rule exists already.", field="is_default")
