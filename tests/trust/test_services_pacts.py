"""Pacts, their versions and obligations: drafting, publishing, immutability."""

from datetime import timedelta

import pytest

from atoc.core.exceptions import ImmutableRecord, ValidationFailed
from tests.factories import PactFactory
from tests.trust.support import refused
from trust.choices import BreachSeverity, Comparator, MetricUnit, PactVersionState
from trust.models import Obligation, PactVersion
from trust.services.pacts import (
    obligation_add,
    obligation_update,
    pact_create,
    pact_version_create,
    pact_version_publish,
    pact_version_update,
)

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
WEEK = timedelta(days=7)


def success_rate(**overrides) -> dict:
    spec = {
        "metric": "task_success_rate",
        "comparator": Comparator.GTE,
        "threshold": 0.9,
        "unit": MetricUnit.RATIO,
        "window": DAY,
        "breach_severity": BreachSeverity.SEV2,
    }
    return {**spec, **overrides}


def latency(**overrides) -> dict:
    spec = {
        "metric": "p95_latency",
        "comparator": Comparator.LTE,
        "threshold": 2.5,
        "unit": MetricUnit.SECONDS,
        "window": DAY,
    }
    return {**spec, **overrides}


@pytest.fixture
def pact(actor):
    return pact_create(slug="refunds", name="Refund handling", actor=actor)


@pytest.fixture
def draft(pact, actor):
    return pact_version_create(
        pact=pact,
        freshness_window=WEEK,
        review_cadence=30 * DAY,
        obligations=[success_rate()],
        actor=actor,
    )


@pytest.fixture
def published(draft, actor):
    return pact_version_publish(pact_version=draft, actor=actor)


# --- pact_create -------------------------------------------------------------------------


def test_pact_create_stores_the_pact(actor):
    pact = pact_create(slug="kyc", name="KYC checks", actor=actor, description="Know your customer")
    assert (pact.slug, pact.name, pact.description) == ("kyc", "KYC checks", "Know your customer")


def test_pact_create_with_an_existing_slug_is_refused_and_writes_nothing(pact, actor):
    with refused(ValidationFailed, field="slug"):
        pact_create(slug="refunds", name="Another", actor=actor)


def test_pact_create_with_a_malformed_slug_is_refused(actor):
    with refused(ValidationFailed, field="slug"):
        pact_create(slug="not a slug!", name="Bad", actor=actor)


# --- pact_version_create ------------------------------------------------------------------


def test_pact_version_create_drafts_the_next_version_with_its_obligations(draft, pact, actor):
    assert draft.number == 1
    assert draft.state == PactVersionState.DRAFT
    assert draft.published_at is None
    (obligation,) = draft.obligations.all()
    assert (obligation.metric, obligation.comparator, obligation.threshold) == (
        "task_success_rate",
        Comparator.GTE,
        0.9,
    )
    assert obligation.breach_severity == BreachSeverity.SEV2

    second = pact_version_create(
        pact=pact, freshness_window=DAY, review_cadence=WEEK, obligations=[latency()], actor=actor
    )
    assert second.number == 2
    other = pact_version_create(
        pact=PactFactory(), freshness_window=DAY, review_cadence=WEEK, actor=actor
    )
    assert other.number == 1


def test_pact_version_create_can_publish_at_once(pact, actor):
    version = pact_version_create(
        pact=pact,
        freshness_window=WEEK,
        review_cadence=WEEK,
        obligations=[success_rate(), latency()],
        publish=True,
        actor=actor,
    )
    assert version.is_published
    assert version.published_by == actor
    assert version.obligations.count() == 2


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("freshness_window", {"freshness_window": timedelta(0)}),
        ("freshness_window", {"freshness_window": -DAY}),
        ("freshness_window", {"freshness_window": 3600}),
        ("review_cadence", {"review_cadence": timedelta(seconds=-1)}),
    ],
)
def test_pact_version_create_with_a_non_positive_window_is_refused(pact, actor, field, changes):
    arguments = {"freshness_window": WEEK, "review_cadence": WEEK, **changes}
    with refused(ValidationFailed, field=field):
        pact_version_create(pact=pact, obligations=[success_rate()], actor=actor, **arguments)


@pytest.mark.parametrize(
    ("field", "spec"),
    [
        ("metric", success_rate(metric="")),
        ("metric", success_rate(metric="Task success rate")),
        ("comparator", success_rate(comparator="between")),
        ("unit", success_rate(unit="percent")),
        ("breach_severity", success_rate(breach_severity="SEV9")),
        ("threshold", success_rate(threshold=1.5)),
        ("threshold", success_rate(threshold=-0.1)),
        ("threshold", success_rate(threshold=float("nan"))),
        ("threshold", success_rate(threshold="high")),
        ("threshold", success_rate(comparator=Comparator.LTE, threshold=1.0)),
        ("threshold", latency(metric="queue_seconds", comparator=Comparator.LT, threshold=0)),
        ("window", success_rate(window=timedelta(0))),
        ("window", success_rate(window="1 day")),
        ("description", success_rate(description="x" * 301)),
    ],
)
def test_pact_version_create_with_a_bad_obligation_is_refused_naming_it(pact, actor, field, spec):
    with refused(ValidationFailed, field=f"obligations[1].{field}"):
        pact_version_create(
            pact=pact,
            freshness_window=WEEK,
            review_cadence=WEEK,
            obligations=[latency(), spec],
            actor=actor,
        )


def test_pact_version_create_with_a_metric_twice_is_refused(pact, actor):
    with refused(ValidationFailed, field="obligations[1].metric"):
        pact_version_create(
            pact=pact,
            freshness_window=WEEK,
            review_cadence=WEEK,
            obligations=[success_rate(), success_rate(threshold=0.5)],
            actor=actor,
        )


def test_pact_version_create_with_an_unknown_obligation_key_is_refused(pact, actor):
    spec = success_rate()
    spec["treshold"] = spec.pop("threshold")
    with refused(ValidationFailed, field="obligations[0].treshold"):
        pact_version_create(
            pact=pact, freshness_window=WEEK, review_cadence=WEEK, obligations=[spec], actor=actor
        )


@pytest.mark.parametrize("key", ["metric", "comparator", "threshold", "window"])
def test_pact_version_create_with_a_missing_obligation_key_is_refused(pact, actor, key):
    spec = success_rate()
    del spec[key]
    with refused(ValidationFailed, field=f"obligations[0].{key}"):
        pact_version_create(
            pact=pact, freshness_window=WEEK, review_cadence=WEEK, obligations=[spec], actor=actor
        )


@pytest.mark.parametrize("key", ["pact_version", "actor", "prefix"])
def test_pact_version_create_refuses_obligation_keys_that_are_not_obligation_fields(
    pact, actor, key
):
    with refused(ValidationFailed, field=f"obligations[0].{key}"):
        pact_version_create(
            pact=pact,
            freshness_window=WEEK,
            review_cadence=WEEK,
            obligations=[success_rate(**{key: None})],
            actor=actor,
        )


# --- publishing -------------------------------------------------------------------------------


def test_publish_sets_the_state_the_time_and_the_publisher(draft, actor):
    version = pact_version_publish(pact_version=draft, actor=actor)
    assert version.state == PactVersionState.PUBLISHED
    assert version.published_at is not None
    assert version.published_by == actor
    stored = PactVersion.objects.get(pk=draft.pk)
    assert (stored.state, stored.published_at) == (version.state, version.published_at)


def test_publish_without_obligations_is_refused_and_writes_nothing(pact, actor):
    empty = pact_version_create(pact=pact, freshness_window=WEEK, review_cadence=WEEK, actor=actor)
    with refused(ValidationFailed, field="obligations"):
        pact_version_publish(pact_version=empty, actor=actor)
    assert PactVersion.objects.get(pk=empty.pk).state == PactVersionState.DRAFT


def test_publish_twice_is_a_no_op(published, actor):
    other = type(actor).objects.create(username="someone-else")
    again = pact_version_publish(pact_version=published, actor=other)
    assert again.published_at == published.published_at
    assert again.published_by == actor
    assert published.history.count() == 2  # drafted, published: nothing for the replay


# --- published versions are immutable -----------------------------------------------------


def test_editing_a_published_version_raises_immutable_record(published, actor):
    with refused(ImmutableRecord, field="pact_version"):
        pact_version_update(pact_version=published, actor=actor, notes="changed my mind")


def test_adding_an_obligation_to_a_published_version_raises_immutable_record(published, actor):
    with refused(ImmutableRecord, field="pact_version"):
        obligation_add(pact_version=published, actor=actor, **latency())


def test_adding_an_obligation_through_a_stale_draft_instance_is_still_refused(draft, actor):
    pact_version_publish(pact_version=draft, actor=actor)
    assert draft.state == PactVersionState.DRAFT  # the caller's copy was never refreshed
    with refused(ImmutableRecord, field="pact_version"):
        obligation_add(pact_version=draft, actor=actor, **latency())


@pytest.mark.parametrize(
    "changes", [{"threshold": 0.5}, {"comparator": Comparator.GT}, {"window": WEEK}]
)
def test_changing_an_obligation_of_a_published_version_raises_immutable_record(
    published, actor, changes
):
    obligation = published.obligations.get()
    with refused(ImmutableRecord, field="pact_version"):
        obligation_update(obligation=obligation, actor=actor, **changes)


# --- drafts can be edited ----------------------------------------------------------------


def test_pact_version_update_changes_a_draft(draft, actor):
    version = pact_version_update(
        pact_version=draft, actor=actor, freshness_window=DAY, notes="daily"
    )
    stored = PactVersion.objects.get(pk=draft.pk)
    assert (stored.freshness_window, stored.notes) == (DAY, "daily")
    assert version.freshness_window == DAY


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("state", {"state": PactVersionState.PUBLISHED}),
        ("number", {"number": 7}),
        ("freshness_window", {"freshness_window": timedelta(0)}),
        ("review_cadence", {"review_cadence": None}),
    ],
)
def test_pact_version_update_refuses_bad_changes(draft, actor, field, changes):
    with refused(ValidationFailed, field=field):
        pact_version_update(pact_version=draft, actor=actor, **changes)


def test_obligation_add_to_a_draft(draft, actor):
    obligation = obligation_add(pact_version=draft, actor=actor, **latency())
    assert obligation.pact_version == draft
    assert obligation.breach_severity == BreachSeverity.SEV3  # the default
    assert draft.obligations.count() == 2


def test_obligation_add_with_an_existing_metric_is_refused(draft, actor):
    with refused(ValidationFailed, field="metric"):
        obligation_add(pact_version=draft, actor=actor, **success_rate(threshold=0.8))


def test_obligation_update_changes_a_draft_obligation(draft, actor):
    obligation = draft.obligations.get()
    obligation_update(obligation=obligation, actor=actor, threshold=0.95, description="stricter")
    stored = Obligation.objects.get(pk=obligation.pk)
    assert (stored.threshold, stored.description) == (0.95, "stricter")


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("threshold", {"threshold": 2.0}),
        ("threshold", {"threshold": "0.5"}),
        ("comparator", {"comparator": "~"}),
        ("window", {"window": timedelta(0)}),
        ("metric", {"metric": "no spaces allowed"}),
        ("pact_version", {"pact_version": None}),
        ("id", {"id": 999}),
    ],
)
def test_obligation_update_refuses_bad_changes(draft, actor, field, changes):
    obligation = draft.obligations.get()
    with refused(ValidationFailed, field=field):
        obligation_update(obligation=obligation, actor=actor, **changes)


def test_obligation_cannot_be_moved_to_a_published_version(draft, published, actor, pact):
    other = pact_version_create(
        pact=pact, freshness_window=WEEK, review_cadence=WEEK, obligations=[latency()], actor=actor
    )
    obligation = other.obligations.get()
    with refused(ValidationFailed, field="pact_version"):
        obligation_update(obligation=obligation, actor=actor, pact_version=published)


def test_obligation_update_to_a_metric_the_version_has_is_refused(draft, actor):
    second = obligation_add(pact_version=draft, actor=actor, **latency())
    with refused(ValidationFailed, field="metric"):
        obligation_update(obligation=second, actor=actor, metric="task_success_rate")


def test_obligation_update_without_a_change_writes_nothing(draft, actor):
    obligation = draft.obligations.get()
    before = obligation.history.count()
    obligation_update(obligation=obligation, actor=actor, threshold=obligation.threshold)
    assert obligation.history.count() == before
