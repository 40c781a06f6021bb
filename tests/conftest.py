"""Shared fixtures. The suite runs on real PostgreSQL and Redis (config.settings.test)."""

import pytest

from atoc.core.history import get_system_user
from tests.factories import AgentFactory, UserFactory


@pytest.fixture
def actor(db):
    """A staff operator acting through a service."""
    return UserFactory(username="operator", is_staff=True)


@pytest.fixture
def system_user(db):
    return get_system_user()


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root-admin", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def agent(db):
    return AgentFactory()
