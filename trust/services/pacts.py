"""Writes about pacts, their versions and obligations."""

from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from atoc.core.exceptions import ImmutableRecord, ValidationFailed
from atoc.core.history import save_with_history
from atoc.core.validation import clean_or_raise
from trust.choices import BreachSeverity, Comparator, MetricUnit, PactVersionState
from trust.models import Obligation, Pact, PactVersion
from trust.scoring import threshold_problem

# What an obligation spec may hold, and what it must.
OBLIGATION_FIELDS = (
    "metric",
    "description",
    "unit",
    "comparator",
    "threshold",
    "window",
    "breach_severity",
)
REQUIRED_OBLIGATION_FIELDS = ("metric", "comparator", "threshold", "window")


@transaction.atomic
def pact_create(*, slug: str, name: str, actor, description: str = "") -> Pact:
    """Create a pact (a named set of obligations, versioned)."""
    if Pact.objects.filter(slug=slug).exists():
        raise ValidationFailed(f"A pact with slug {slug!r} already exists.", field="slug")
    pact = Pact(slug=slug, name=name, description=description)
    clean_or_raise(pact)
    return save_with_history(pact, actor=actor, reason="Pact created")


def validate_window(value: timedelta, *, field: str) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationFailed("Must be a positive duration.", field=field)


def validate_obligation(
    *,
    metric: str,
    comparator: str,
    threshold: float,
    unit: str,
    window: timedelta,
    breach_severity: str,
    prefix: str = "",
) -> None:
    """Refuse an obligation that could never be met or breached, naming the field."""
    if not metric:
        raise ValidationFailed("A metric name is required.", field=f"{prefix}metric")
    if comparator not in Comparator.values:
        raise ValidationFailed(
            f"Unknown comparator {comparator!r}; use one of {', '.join(Comparator.values)}.",
            field=f"{prefix}comparator",
        )
    if unit not in MetricUnit.values:
        raise ValidationFailed(f"Unknown unit {unit!r}.", field=f"{prefix}unit")
    if breach_severity not in BreachSeverity.values:
        raise ValidationFailed(
            f"Unknown severity {breach_severity!r}.", field=f"{prefix}breach_severity"
        )
    problem = threshold_problem(comparator=comparator, threshold=threshold, unit=unit)
    if problem:
        raise ValidationFailed(problem, field=f"{prefix}threshold")
    validate_window(window, field=f"{prefix}window")


@transaction.atomic
def pact_version_create(
    *,
    pact: Pact,
    freshness_window: timedelta,
    review_cadence: timedelta,
    obligations: Iterable[dict] = (),
    notes: str = "",
    publish: bool = False,
    actor,
) -> PactVersion:
    """Create the pact's next version (a draft) with its obligations; optionally publish it.

    ``obligations`` is a list of dicts with ``metric, comparator, threshold, unit,
    window, breach_severity`` and optional ``description``.
    """
    validate_window(freshness_window, field="freshness_window")
    validate_window(review_cadence, field="review_cadence")
    Pact.objects.select_for_update().filter(pk=pact.pk).first()  # serialise numbering
    number = (pact.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = PactVersion(
        pact=pact,
        number=number,
        freshness_window=freshness_window,
        review_cadence=review_cadence,
        notes=notes,
    )
    save_with_history(version, actor=actor, reason="Pact version drafted")
    seen = set()
    for index, spec in enumerate(obligations):
        prefix = f"obligations[{index}]."
        _check_obligation_spec(spec, prefix=prefix)
        metric = spec["metric"]
        if metric in seen:
            raise ValidationFailed(f"Metric {metric!r} appears twice.", field=f"{prefix}metric")
        seen.add(metric)
        obligation_add(pact_version=version, actor=actor, prefix=prefix, **spec)
    if publish:
        version = pact_version_publish(pact_version=version, actor=actor)
    return version


@transaction.atomic
def obligation_add(
    *,
    pact_version: PactVersion,
    metric: str,
    comparator: str,
    threshold: float,
    window: timedelta,
    unit: str = MetricUnit.RATIO,
    breach_severity: str = BreachSeverity.SEV3,
    description: str = "",
    actor,
    prefix: str = "",
) -> Obligation:
    """Add an obligation to a draft pact version."""
    # Re-read under lock: the caller's copy may predate a publication.
    pact_version = PactVersion.objects.select_for_update().get(pk=pact_version.pk)
    _require_draft(pact_version)
    validate_obligation(
        metric=metric,
        comparator=comparator,
        threshold=threshold,
        unit=unit,
        window=window,
        breach_severity=breach_severity,
        prefix=prefix,
    )
    if pact_version.obligations.filter(metric=metric).exists():
        raise ValidationFailed(
            f"This version already has an obligation on {metric!r}.", field=f"{prefix}metric"
        )
    obligation = Obligation(
        pact_version=pact_version,
        metric=metric,
        comparator=comparator,
        threshold=threshold,
        unit=unit,
        window=window,
        breach_severity=breach_severity,
        description=description,
    )
    _clean(obligation, prefix=prefix)
    return save_with_history(obligation, actor=actor, reason="Obligation added")


@transaction.atomic
def obligation_update(*, obligation: Obligation, actor, **changes) -> Obligation:
    """Change an obligation of a draft version; a published one is immutable.

    Only the clause itself can change (see ``OBLIGATION_FIELDS``), never the version
    it belongs to. Unchanged values write nothing.
    """
    version_id = Obligation.objects.values_list("pact_version_id", flat=True).get(pk=obligation.pk)
    version = PactVersion.objects.select_for_update().get(pk=version_id)
    _require_draft(version)
    for field in changes:
        if field not in OBLIGATION_FIELDS:
            raise ValidationFailed(f"{field} cannot be changed.", field=field)
    obligation = Obligation.objects.select_for_update().get(pk=obligation.pk)
    changed = [f for f, v in changes.items() if getattr(obligation, f) != v]
    if not changed:
        return obligation
    for field in changed:
        setattr(obligation, field, changes[field])
    validate_obligation(
        metric=obligation.metric,
        comparator=obligation.comparator,
        threshold=obligation.threshold,
        unit=obligation.unit,
        window=obligation.window,
        breach_severity=obligation.breach_severity,
    )
    if (
        "metric" in changed
        and version.obligations.filter(metric=obligation.metric).exclude(pk=obligation.pk).exists()
    ):
        raise ValidationFailed(
            f"This version already has an obligation on {obligation.metric!r}.", field="metric"
        )
    clean_or_raise(obligation)
    return save_with_history(
        obligation, actor=actor, reason="Obligation changed", update_fields=changed
    )


@transaction.atomic
def pact_version_update(*, pact_version: PactVersion, actor, **changes) -> PactVersion:
    """Change a draft version's windows or notes; a published version is immutable."""
    version = PactVersion.objects.select_for_update().get(pk=pact_version.pk)
    _require_draft(version)
    allowed = {"freshness_window", "review_cadence", "notes"}
    for field, value in changes.items():
        if field not in allowed:
            raise ValidationFailed(f"{field} cannot be changed.", field=field)
        if field != "notes":
            validate_window(value, field=field)
    changed = [f for f, v in changes.items() if getattr(version, f) != v]
    if not changed:
        return version
    for field in changed:
        setattr(version, field, changes[field])
    return save_with_history(
        version, actor=actor, reason="Pact version changed", update_fields=changed
    )


@transaction.atomic
def pact_version_publish(*, pact_version: PactVersion, actor) -> PactVersion:
    """Publish a draft version; from then on it is immutable. Publishing twice is a no-op."""
    version = PactVersion.objects.select_for_update().get(pk=pact_version.pk)
    if version.is_published:
        return version
    if not version.obligations.exists():
        raise ValidationFailed(
            "A pact version needs at least one obligation before it is published.",
            field="obligations",
        )
    version.state = PactVersionState.PUBLISHED
    version.published_at = timezone.now()
    version.published_by = actor
    return save_with_history(
        version,
        actor=actor,
        reason="Pact version published",
        update_fields=["state", "published_at", "published_by"],
    )


def _check_obligation_spec(spec, *, prefix: str) -> None:
    """Refuse an obligation spec with keys that are not obligation fields, or missing ones."""
    if not isinstance(spec, dict):
        raise ValidationFailed("Each obligation must be an object.", field=prefix.rstrip("."))
    for key in spec:
        if key not in OBLIGATION_FIELDS:
            raise ValidationFailed(f"Unknown obligation field {key!r}.", field=f"{prefix}{key}")
    for key in REQUIRED_OBLIGATION_FIELDS:
        if key not in spec:
            raise ValidationFailed("This field is required.", field=f"{prefix}{key}")


def _clean(obligation: Obligation, *, prefix: str) -> None:
    """``clean_or_raise`` with the field named as the caller's input names it."""
    try:
        clean_or_raise(obligation)
    except ValidationFailed as exc:
        if exc.field:
            exc.field = f"{prefix}{exc.field}"
        raise


def _require_draft(version: PactVersion) -> None:
    if version.is_published:
        raise ImmutableRecord(
            f"Pact version {version} is published and cannot be changed; draft a new version.",
            field="pact_version",
        )
