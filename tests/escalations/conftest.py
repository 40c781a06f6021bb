"""Fixtures for the escalations tests: the default ladder, controls and routing."""

from dataclasses import dataclass

import pytest
from django.apps import apps

from escalations.defaults import install_defaults
from escalations.models import Control, Counterpart, SeverityLevel


@dataclass
class Defaults:
    levels: dict[str, SeverityLevel]
    counterparts: dict[str, Counterpart]  # by function
    controls: dict[str, Control]  # by signal kind


@pytest.fixture(autouse=True)
def defaults(db) -> Defaults:
    """What the data migration installs (reinstalled: transactional tests flush it)."""
    install_defaults(apps)
    return Defaults(
        levels={level.name: level for level in SeverityLevel.objects.all()},
        counterparts={c.function: c for c in Counterpart.objects.all()},
        controls={c.signal_kind: c for c in Control.objects.select_related("owner")},
    )


@pytest.fixture
def other_actor(db):
    from tests.factories import UserFactory

    return UserFactory(username="second-operator", is_staff=True)
