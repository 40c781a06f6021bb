"""Fixtures for the API tests: API keys with chosen scopes and clients that send them."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from rest_framework.test import APIClient

from atoc.core.models import ApiKey, ApiScope
from atoc.core.services import api_key_create
from escalations.defaults import install_defaults

ALL_SCOPES = [s.value for s in ApiScope]


class KeyClient(APIClient):
    """An API client that sends one API key; ``.api_key`` and ``.raw_key`` name it."""

    api_key: ApiKey
    raw_key: str


def client_with_key(raw: str, api_key: ApiKey | None = None) -> KeyClient:
    client = KeyClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.raw_key = raw
    client.api_key = api_key
    return client


@pytest.fixture
def make_key(db):
    """``make_key(scopes, teams=(), expires_at=None)`` → ``(ApiKey, raw key string)``."""

    def make(scopes=ALL_SCOPES, *, teams=(), expires_at=None, name="integration"):
        api_key, raw = api_key_create(name=name, scopes=scopes, teams=teams, expires_at=expires_at)
        # A fresh last use keeps query counts free of the once-a-minute touch.
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())
        api_key.refresh_from_db()
        return api_key, raw

    return make


@pytest.fixture
def make_client(make_key):
    """``make_client(scopes, teams=…, expires_at=…)`` → a client sending a new key."""

    def make(scopes=ALL_SCOPES, **kwargs):
        api_key, raw = make_key(scopes, **kwargs)
        return client_with_key(raw, api_key)

    return make


@pytest.fixture
def api(make_client):
    """A client whose key holds every scope and every team."""
    return make_client(ALL_SCOPES, name="all-scopes")


@pytest.fixture
def reader(make_client):
    return make_client([ApiScope.READ], name="reader")


@pytest.fixture
def anonymous():
    return APIClient()


@pytest.fixture
def expired_client(make_key):
    api_key, raw = make_key(ALL_SCOPES, name="expired")
    now = timezone.now()
    ApiKey.objects.filter(pk=api_key.pk).update(
        created_at=now - timedelta(days=2), expires_at=now - timedelta(seconds=1)
    )
    return client_with_key(raw, api_key)


@pytest.fixture
def ladder(db):
    """The default ladder, counterparts, controls and routing (what the data migration installs).

    Reinstalled because transactional tests flush the database.
    """
    install_defaults(apps)
