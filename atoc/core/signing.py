"""Ed25519 signatures over canonical JSON, for statements third parties verify offline.

A statement is a JSON object; its ``signature`` is Ed25519 over the canonical JSON
of every other field (keys sorted, separators ``,`` and ``:``, UTF-8, no
insignificant whitespace), encoded base64url without padding. ``key_id`` names
the key, which is published with its public half so anyone can verify.

The private key comes from ``settings.ATOC_TRUST_SIGNING_KEY`` (raw 32 bytes,
base64url). When that is empty (local and test runs) a development key is
generated on first use and kept in ``VAR_DIR/trust-signing-key`` (mode 0600);
production settings refuse to start without the real key.
"""

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings

ALGORITHM = "Ed25519"
DEV_KEY_FILENAME = "trust-signing-key"


class SignatureError(Exception):
    """A statement does not verify; the message says why."""


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; ``ValueError`` when it is not base64url."""
    if not isinstance(text, str):
        raise ValueError("expected a base64url string")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def canonical_json(document: dict) -> bytes:
    """The exact bytes that are signed."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )


def key_fingerprint(public_raw: bytes) -> str:
    """A stable id for a public key when none is configured: ``ed25519-<16 hex>``."""
    return "ed25519-" + hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    private_key: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return _raw_public(self.private_key.public_key())


def _load_or_create_dev_key(path: Path) -> bytes:
    """Read the development key, creating it (0600, atomically) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return b64url_decode(path.read_text().strip())
    raw = Ed25519PrivateKey.generate().private_bytes(
        encoding=serialization.Encoding.Raw,
        format=serialization.PrivateFormat.Raw,
        encryption_algorithm=serialization.NoEncryption(),
    )
    with os.fdopen(fd, "w") as handle:
        handle.write(b64url_encode(raw) + "\n")
    return raw


@lru_cache(maxsize=4)
def _signing_key(configured: str, key_id: str, var_dir: str) -> SigningKey:
    if configured:
        raw = b64url_decode(configured.strip())
    else:
        raw = _load_or_create_dev_key(Path(var_dir) / DEV_KEY_FILENAME)
    if len(raw) != 32:
        raise ValueError("The trust signing key must be 32 raw bytes (base64url).")
    private_key = Ed25519PrivateKey.from_private_bytes(raw)
    public_raw = _raw_public(private_key.public_key())
    return SigningKey(key_id=key_id or key_fingerprint(public_raw), private_key=private_key)


def signing_key() -> SigningKey:
    """The current signing key (configured, or the local development key)."""
    return _signing_key(
        settings.ATOC_TRUST_SIGNING_KEY, settings.ATOC_TRUST_KEY_ID, str(settings.VAR_DIR)
    )


def published_keys() -> list[dict]:
    """The public keys statements may be verified with: the current one, then retired ones.

    Retired keys come from ``ATOC_TRUST_PREVIOUS_PUBLIC_KEYS`` entries
    ``key_id=<base64url public key>``, so statements signed before a rotation still
    verify.
    """
    current = signing_key()
    keys = [
        {
            "key_id": current.key_id,
            "algorithm": ALGORITHM,
            "public_key": b64url_encode(current.public_raw),
        }
    ]
    for entry in settings.ATOC_TRUST_PREVIOUS_PUBLIC_KEYS:
        key_id, sep, public = entry.partition("=")
        if not sep or not key_id.strip() or key_id.strip() == current.key_id:
            continue
        keys.append(
            {"key_id": key_id.strip(), "algorithm": ALGORITHM, "public_key": public.strip()}
        )
    return keys


def sign_statement(statement: dict) -> dict:
    """Return ``statement`` with ``key_id`` and ``signature`` (over every other field)."""
    key = signing_key()
    body = {k: v for k, v in statement.items() if k != "signature"}
    body["key_id"] = key.key_id
    signature = key.private_key.sign(canonical_json(body))
    return {**body, "signature": b64url_encode(signature)}


def unique_keys(pairs: list[tuple]) -> dict:
    """``json.loads(..., object_pairs_hook=unique_keys)``: refuse a key given twice.

    A statement read by a parser that keeps the last of two ``"score"`` fields and
    shown by one that keeps the first would verify and say something else.
    """
    document = {}
    for key, value in pairs:
        if key in document:
            raise ValueError(f"the key {key!r} appears twice")
        document[key] = value
    return document


def verify_statement(statement: dict, keys: list[dict]) -> str:
    """Check ``statement`` against published ``keys``; return the key id, or raise.

    ``keys`` is the ``keys`` list of ``GET /api/v1/trust/keys/``. Raises
    :class:`SignatureError` saying what is wrong.
    """
    if not isinstance(statement, dict):
        raise SignatureError("The statement is not a JSON object.")
    signature = statement.get("signature")
    key_id = statement.get("key_id")
    if not isinstance(signature, str) or not signature:
        raise SignatureError("The statement has no signature.")
    if not isinstance(key_id, str) or not key_id:
        raise SignatureError("The statement has no key_id.")
    match = next((k for k in keys if k.get("key_id") == key_id), None)
    if match is None:
        raise SignatureError(f"Key {key_id!r} is not among the published keys.")
    if match.get("algorithm", ALGORITHM) != ALGORITHM:
        raise SignatureError(f"Key {key_id!r} is not an {ALGORITHM} key.")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(b64url_decode(match["public_key"]))
        raw_signature = b64url_decode(signature)
    except (KeyError, ValueError) as exc:
        raise SignatureError(f"Malformed key or signature: {exc}.") from None
    body = {k: v for k, v in statement.items() if k != "signature"}
    try:
        public_key.verify(raw_signature, canonical_json(body))
    except InvalidSignature:
        raise SignatureError(
            "The signature does not match: the statement was altered or signed by another key."
        ) from None
    except (TypeError, ValueError) as exc:
        raise SignatureError(f"The statement cannot be canonicalised: {exc}.") from None
    return key_id
