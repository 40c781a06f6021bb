"""The trust oracle: exactly the documented fields, signed so anyone can verify it."""

import base64
import copy
import json
import os
import stat
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from atoc.core import signing
from tests.factories import AgentFactory
from trust.api import hooks

pytestmark = pytest.mark.django_db

FIELDS = {
    "agent",
    "status",
    "autonomy",
    "routing",
    "score",
    "score_at",
    "freshness",
    "pact_version",
    "open_incidents",
    "issued_at",
    "key_id",
    "signature",
}


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_offline(statement: dict, keys: dict) -> bool:
    """What a third party does, with nothing but the cryptography package."""
    [key] = [k for k in keys["keys"] if k["key_id"] == statement["key_id"]]
    public = Ed25519PublicKey.from_public_bytes(b64url_decode(key["public_key"]))
    body = {k: v for k, v in statement.items() if k != "signature"}
    message = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        public.verify(b64url_decode(statement["signature"]), message.encode("utf-8"))
    except Exception:
        return False
    return True


@pytest.fixture
def agent():
    now = timezone.now()
    return AgentFactory(
        slug="refund-bot",
        current_score=745,
        score_at=now,
        last_evaluated_at=now,
        status="restricted",
        autonomy="human_in_loop",
        routing="shadow",
    )


def test_statement_holds_exactly_the_documented_fields(api, agent):
    statement = api.get("/api/v1/agents/refund-bot/trust/").json()
    assert set(statement) == FIELDS
    assert statement["agent"] == "refund-bot"
    assert statement["status"] == "restricted"
    assert statement["autonomy"] == "human_in_loop"
    assert statement["routing"] == "shadow"
    assert statement["score"] == 745
    assert statement["score_at"].endswith("Z")
    assert statement["freshness"] == {
        "last_evaluated_at": statement["freshness"]["last_evaluated_at"],
        "window_seconds": 7 * 86400,
        "stale": False,
    }
    assert statement["pact_version"] == agent.pact_version_id
    assert statement["open_incidents"] == []
    assert statement["issued_at"].endswith("Z")
    assert statement["key_id"] == signing.signing_key().key_id


def test_signature_verifies_with_the_published_key(api, anonymous, agent):
    statement = api.get("/api/v1/agents/refund-bot/trust/").json()
    keys = anonymous.get("/api/v1/trust/keys/").json()
    assert verify_offline(statement, keys)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("agent",), "other-bot"),
        (("status",), "active"),
        (("autonomy",), "full"),
        (("routing",), "live"),
        (("score",), 999),
        (("score_at",), None),
        (("freshness", "stale"), True),
        (("freshness", "window_seconds"), 1),
        (("freshness", "last_evaluated_at"), None),
        (("pact_version",), 12345),
        (("open_incidents",), [{"id": 1, "severity": "SEV1", "state": "open"}]),
        (("issued_at",), "2030-01-01T00:00:00.000000Z"),
        (("key_id",), "someone-else"),
    ],
)
def test_altering_any_field_breaks_the_signature(api, anonymous, agent, path, value):
    statement = api.get("/api/v1/agents/refund-bot/trust/").json()
    keys = anonymous.get("/api/v1/trust/keys/").json()
    altered = copy.deepcopy(statement)
    target = altered
    for part in path[:-1]:
        target = target[part]
    assert target[path[-1]] != value
    target[path[-1]] = value
    if path == ("key_id",):
        with pytest.raises(signing.SignatureError, match="not among the published keys"):
            signing.verify_statement(altered, keys["keys"])
        return
    assert not verify_offline(altered, keys)
    with pytest.raises(signing.SignatureError, match="does not match"):
        signing.verify_statement(altered, keys["keys"])


def test_open_incidents_come_from_the_registered_provider(api, agent):
    seen = []

    def provider(given):
        seen.append(given.pk)
        return [
            {"id": 9, "severity": "SEV1", "state": "acknowledged", "extra": "dropped"},
            {"id": 4, "severity": "SEV3", "state": "open"},
        ]

    hooks.register_open_incidents_provider(provider)
    try:
        statement = api.get("/api/v1/agents/refund-bot/trust/").json()
    finally:
        hooks.register_open_incidents_provider(None)
    assert seen == [agent.pk]
    assert statement["open_incidents"] == [
        {"id": 4, "severity": "SEV3", "state": "open"},
        {"id": 9, "severity": "SEV1", "state": "acknowledged"},
    ]
    assert signing.verify_statement(statement, signing.published_keys())


def test_stale_agent_is_reported_stale(api):
    AgentFactory(slug="old-bot", evaluation_due_at=timezone.now() - timedelta(days=1))
    statement = api.get("/api/v1/agents/old-bot/trust/").json()
    assert statement["freshness"]["stale"] is True


def test_agent_without_pact_or_score(api):
    AgentFactory(slug="new-bot", pact_version=None, evaluation_due_at=None)
    statement = api.get("/api/v1/agents/new-bot/trust/").json()
    assert statement["pact_version"] is None
    assert statement["score"] is None
    assert statement["freshness"] == {
        "last_evaluated_at": None,
        "window_seconds": None,
        "stale": False,
    }


# --- keys: configured, generated for development, rotated -------------------------------


def _raw_private() -> tuple[str, str]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return signing.b64url_encode(private), signing.b64url_encode(public)


def test_configured_key_and_key_id_are_used(api, anonymous, agent, settings):
    private, public = _raw_private()
    settings.ATOC_TRUST_SIGNING_KEY = private
    settings.ATOC_TRUST_KEY_ID = "prod-2026-11"
    keys = anonymous.get("/api/v1/trust/keys/").json()
    assert keys == {
        "keys": [{"key_id": "prod-2026-11", "algorithm": "Ed25519", "public_key": public}]
    }
    statement = api.get("/api/v1/agents/refund-bot/trust/").json()
    assert statement["key_id"] == "prod-2026-11"
    assert verify_offline(statement, keys)


def test_previous_keys_stay_published_after_a_rotation(api, anonymous, agent, settings):
    old_private, old_public = _raw_private()
    settings.ATOC_TRUST_SIGNING_KEY = old_private
    settings.ATOC_TRUST_KEY_ID = "k1"
    old_statement = api.get("/api/v1/agents/refund-bot/trust/").json()

    new_private, _ = _raw_private()
    settings.ATOC_TRUST_SIGNING_KEY = new_private
    settings.ATOC_TRUST_KEY_ID = "k2"
    settings.ATOC_TRUST_PREVIOUS_PUBLIC_KEYS = [f"k1={old_public}"]
    keys = anonymous.get("/api/v1/trust/keys/").json()

    assert [k["key_id"] for k in keys["keys"]] == ["k2", "k1"]
    assert verify_offline(old_statement, keys)
    new_statement = api.get("/api/v1/agents/refund-bot/trust/").json()
    assert new_statement["key_id"] == "k2"
    assert verify_offline(new_statement, keys)


def test_development_key_is_generated_once_with_private_permissions(settings, tmp_path):
    settings.ATOC_TRUST_SIGNING_KEY = ""
    settings.ATOC_TRUST_KEY_ID = ""
    settings.VAR_DIR = tmp_path
    first = signing.signing_key()
    path = tmp_path / signing.DEV_KEY_FILENAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    signing._signing_key.cache_clear()
    again = signing.signing_key()
    assert again.public_raw == first.public_raw
    assert first.key_id.startswith("ed25519-")


# --- manage.py verify_trust_statement ------------------------------------------------------


def test_verify_command_accepts_a_saved_statement(api, agent, tmp_path, capsys):
    saved = tmp_path / "statement.json"
    saved.write_text(json.dumps(api.get("/api/v1/agents/refund-bot/trust/").json()))
    call_command("verify_trust_statement", str(saved))
    assert capsys.readouterr().out.startswith("valid")


def test_verify_command_with_a_saved_keys_document(api, anonymous, agent, tmp_path, capsys):
    statement = tmp_path / "statement.json"
    statement.write_text(json.dumps(api.get("/api/v1/agents/refund-bot/trust/").json()))
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(anonymous.get("/api/v1/trust/keys/").json()))
    call_command("verify_trust_statement", str(statement), "--keys", str(keys))
    assert "valid" in capsys.readouterr().out


def test_verify_command_rejects_an_altered_statement(api, agent, tmp_path):
    statement = api.get("/api/v1/agents/refund-bot/trust/").json()
    statement["score"] = 1000
    saved = tmp_path / "statement.json"
    saved.write_text(json.dumps(statement))
    with pytest.raises(CommandError, match="invalid: The signature does not match"):
        call_command("verify_trust_statement", str(saved))


def test_verify_command_refuses_a_field_given_twice(api, agent, tmp_path):
    signed = json.dumps(api.get("/api/v1/agents/refund-bot/trust/").json())
    saved = tmp_path / "statement.json"
    saved.write_text('{"status": "active", "score": 990, ' + signed[1:])  # later copies signed
    with pytest.raises(CommandError, match="appears twice"):
        call_command("verify_trust_statement", str(saved))


def test_verify_command_explains_unreadable_input(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("verify_trust_statement", str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("verify_trust_statement", str(broken))
    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(json.dumps({"agent": "x"}))
    with pytest.raises(CommandError, match="no signature"):
        call_command("verify_trust_statement", str(unsigned))
