"""Fixtures for the center's tests: the ladder, the roles, and people in each role."""

from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib.auth.models import Group

from atoc.center.models import OperatorScope
from atoc.center.roles import ADMIN, OPERATOR, VIEWER, install_roles
from escalations.defaults import install_defaults
from tests.factories import TeamFactory, UserFactory


@pytest.fixture(autouse=True)
def installed(db):
    """What the migrations install (again: transactional tests flush it)."""
    install_defaults(apps)
    install_roles(apps)


def in_group(user, name):
    user.groups.add(Group.objects.get(name=name))
    return user


@pytest.fixture
def actor(db):
    """An operator acting fleet-wide (overrides the plain staff user of tests/conftest.py)."""
    return in_group(UserFactory(username="operator", is_staff=True), OPERATOR)


@dataclass
class People:
    operator: object  # acts fleet-wide
    viewer: object  # reads only
    admin: object  # configures
    team_operator: object  # acts on ``own_team`` only
    own_team: object
    other_team: object


@pytest.fixture
def people(db) -> People:
    own, other = TeamFactory(name="Customer Operations"), TeamFactory(name="Finance")
    team_operator = in_group(UserFactory(username="team-op"), OPERATOR)
    scope = OperatorScope.objects.create(user=team_operator, note="customer operations only")
    scope.teams.set([own])
    return People(
        operator=in_group(UserFactory(username="fleet-op"), OPERATOR),
        viewer=in_group(UserFactory(username="watcher"), VIEWER),
        admin=in_group(UserFactory(username="config-admin"), ADMIN),
        team_operator=team_operator,
        own_team=own,
        other_team=other,
    )
