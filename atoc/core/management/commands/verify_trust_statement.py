"""Verify a saved trust statement against the published public keys."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from atoc.core.signing import SignatureError, published_keys, unique_keys, verify_statement


class Command(BaseCommand):
    help = (
        "Verify a trust statement saved from GET /api/v1/agents/{slug}/trust/. "
        "Uses this installation's published keys, or --keys FILE (a saved "
        "GET /api/v1/trust/keys/ answer). Prints 'valid' and exits 0, or exits 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The statement (JSON); '-' reads standard input.")
        parser.add_argument("--keys", default=None, help="A saved /api/v1/trust/keys/ document.")

    def handle(self, *args, file, keys, **options):
        statement = self._load(file, "statement")
        if keys:
            document = self._load(keys, "keys document")
            key_list = document.get("keys") if isinstance(document, dict) else None
            if not isinstance(key_list, list):
                raise CommandError("The keys document has no 'keys' list.")
        else:
            key_list = published_keys()
        try:
            key_id = verify_statement(statement, key_list)
        except SignatureError as exc:
            raise CommandError(f"invalid: {exc}") from exc
        self.stdout.write(f"valid (agent {statement.get('agent')!r}, key {key_id})")

    def _load(self, name: str, what: str):
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot read the {what}: {exc.strerror} ({name}).") from exc
        try:
            return json.loads(text, object_pairs_hook=unique_keys)
        except ValueError as exc:
            raise CommandError(f"The {what} is not valid JSON: {exc}.") from exc
