"""API keys: the create_api_key command, the services and the admin pages."""

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from atoc.core.exceptions import ValidationFailed
from atoc.core.models import ApiKey, hash_secret
from atoc.core.services import api_key_create, api_key_revoke
from tests.api.conftest import client_with_key
from tests.factories import AgentFactory, TeamFactory

pytestmark = pytest.mark.django_db

KEY_PATTERN = re.compile(r"^atoc_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")


def test_command_prints_a_working_key_once(capsys):
    AgentFactory(slug="refund-bot")
    call_command("create_api_key", "--name", "eval-runner", "--scopes", "read,evaluations:write")
    out, err = capsys.readouterr()
    raw = out.strip()
    assert KEY_PATTERN.match(raw)
    assert "shown once" in err
    api_key = ApiKey.objects.get(name="eval-runner")
    assert api_key.scopes == ["evaluations:write", "read"]
    assert api_key.secret_hash == hash_secret(raw.split("_", 2)[2])
    assert raw.split("_", 2)[2] not in api_key.secret_hash
    assert api_key.expires_at is None
    assert api_key.created_by.username == "atoc-system"
    response = client_with_key(raw).get("/api/v1/agents/")
    assert [a["slug"] for a in response.json()["results"]] == ["refund-bot"]


def test_command_with_teams_and_expiry(capsys):
    TeamFactory(slug="finance")
    TeamFactory(slug="payments")
    call_command(
        "create_api_key",
        "--name",
        "ledger",
        "--scopes",
        "read,admin",
        "--team",
        "finance",
        "--team",
        "payments",
        "--expires-in-days",
        "30",
    )
    api_key = ApiKey.objects.get(name="ledger")
    assert sorted(t.slug for t in api_key.teams.all()) == ["finance", "payments"]
    assert timedelta(days=29) < api_key.expires_at - timezone.now() <= timedelta(days=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scopes", "read,root"], "Unknown scope 'root'"),
        (["--scopes", ","], "at least one scope"),
        (["--scopes", "read", "--team", "nowhere"], "No team with slug 'nowhere'"),
        (["--scopes", "read", "--expires-in-days", "0"], "positive"),
    ],
)
def test_command_refuses_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", "--name", "x", *args)
    assert not ApiKey.objects.exists()


def test_service_refuses_an_expiry_in_the_past():
    with pytest.raises(ValidationFailed) as info:
        api_key_create(name="x", scopes=["read"], expires_at=timezone.now() - timedelta(days=1))
    assert info.value.field == "expires_at"


def test_revoke_is_idempotent_and_disables_the_account(admin_user):
    api_key, _ = api_key_create(name="x", scopes=["read"])
    api_key_revoke(api_key=api_key, actor=admin_user)
    first = ApiKey.objects.get(pk=api_key.pk).revoked_at
    api_key_revoke(api_key=api_key, actor=admin_user)
    api_key.refresh_from_db()
    assert api_key.revoked_at == first
    assert api_key.state == "revoked"
    assert not api_key.user.is_active
    assert api_key.history.first().history_user == admin_user


# --- admin -------------------------------------------------------------------------


def test_admin_list_shows_keys_without_their_hash(admin_client):
    api_key, raw = api_key_create(name="eval-runner", scopes=["read"])
    response = admin_client.get("/admin/core/apikey/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "eval-runner" in content
    assert f"atoc_{api_key.prefix}_…" in content
    assert api_key.secret_hash not in content
    detail = admin_client.get(f"/admin/core/apikey/{api_key.pk}/change/").content.decode()
    assert api_key.secret_hash not in detail
    assert raw not in detail


def test_admin_creates_a_key_and_shows_it_once(admin_client, admin_user):
    team = TeamFactory(slug="finance")
    response = admin_client.post(
        "/admin/core/apikey/add/",
        {"name": "dashboard", "scopes": ["read"], "teams": [team.pk], "expires_at": ""},
        follow=True,
    )
    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="dashboard")
    assert list(api_key.teams.all()) == [team]
    assert api_key.created_by == admin_user
    messages = [str(m) for m in response.context["messages"]]
    [shown] = [m for m in messages if "will not be shown again" in m]
    raw = shown.rsplit(" ", 1)[-1]
    assert KEY_PATTERN.match(raw)
    assert client_with_key(raw).get("/api/v1/teams/").status_code == 200
    again = admin_client.get(f"/admin/core/apikey/{api_key.pk}/change/").content.decode()
    assert raw not in again


def test_admin_revoke_action(admin_client):
    api_key, raw = api_key_create(name="old", scopes=["read"])
    response = admin_client.post(
        "/admin/core/apikey/",
        {"action": "revoke_selected", "_selected_action": [api_key.pk]},
        follow=True,
    )
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert client_with_key(raw).get("/api/v1/teams/").status_code == 401
