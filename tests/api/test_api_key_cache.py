"""API keys are cached after their first use, and every change to a key drops the copy."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from atoc.core.models import ApiKey
from atoc.core.services import api_key_revoke
from tests.api.conftest import client_with_key
from tests.api.support import assert_error
from tests.factories import AgentFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def key_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        client.get("/api/v1/teams/")
    return [q["sql"] for q in captured if "core_apikey" in q["sql"]]


def test_a_used_key_is_read_from_the_cache(make_client):
    client = make_client(["read"])
    assert key_queries(client)  # first use: read from the database
    assert key_queries(client) == []


def test_revoking_a_used_key_refuses_its_next_request(make_client):
    client = make_client(["read"])
    assert client.get("/api/v1/teams/").status_code == 200
    api_key_revoke(api_key=client.api_key, actor=UserFactory())
    error = assert_error(client.get("/api/v1/teams/"), 401)
    assert "revoked" in error["message"]


def test_changing_scopes_takes_effect_at_once(make_client):
    client = make_client(["read", "admin"])
    assert client.post("/api/v1/pacts/", {"slug": "p1", "name": "P"}).status_code == 201
    api_key = ApiKey.objects.get(pk=client.api_key.pk)
    api_key.scopes = ["read"]
    api_key.save()
    assert_error(client.post("/api/v1/pacts/", {"slug": "p2", "name": "P"}), 403)


def test_restricting_a_used_key_to_a_team_takes_effect_at_once(make_client):
    agent = AgentFactory(slug="refund-bot")
    client = make_client(["read"])
    assert client.get(f"/api/v1/agents/{agent.slug}/").status_code == 200
    client.api_key.teams.set([TeamFactory(slug="elsewhere")])
    assert_error(client.get(f"/api/v1/agents/{agent.slug}/"), 404)
    client.api_key.teams.add(agent.team)
    assert client.get(f"/api/v1/agents/{agent.slug}/").status_code == 200


def test_disabling_the_service_account_refuses_the_key(make_client):
    client = make_client(["read"])
    assert client.get("/api/v1/teams/").status_code == 200
    user = client.api_key.user
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert_error(client.get("/api/v1/teams/"), 401)


def test_a_wrong_secret_is_refused_even_when_the_key_is_cached(make_client):
    client = make_client(["read"])
    assert client.get("/api/v1/teams/").status_code == 200
    tampered = client.raw_key[:-2] + ("AA" if not client.raw_key.endswith("AA") else "BB")
    assert_error(client_with_key(tampered).get("/api/v1/teams/"), 401)


def test_a_key_revoked_while_a_request_uses_it_is_refused_then_and_after(make_client, monkeypatch):
    from atoc.core.api import authentication
    from atoc.core.services import api_key_touch

    client = make_client(["read"])
    ApiKey.objects.filter(pk=client.api_key.pk).update(last_used_at=None)

    def revoked_meanwhile(*, api_key, now):
        api_key_revoke(api_key=ApiKey.objects.get(pk=api_key.pk), actor=UserFactory())
        return api_key_touch(api_key=api_key, now=now)

    monkeypatch.setattr(authentication, "api_key_touch", revoked_meanwhile)
    assert_error(client.get("/api/v1/teams/"), 401)
    monkeypatch.undo()
    assert_error(client.get("/api/v1/teams/"), 401)


def test_a_copy_cached_from_before_a_change_is_not_used(make_client):
    from django.core.cache import cache

    from atoc.core.api import authentication

    client = make_client(["read"])
    prefix = client.api_key.prefix
    old = authentication._load(prefix)
    api_key_revoke(api_key=client.api_key, actor=UserFactory())
    cache.set(authentication._cache_key(prefix), old, 60)  # written late by a slow request

    assert_error(client.get("/api/v1/teams/"), 401)
