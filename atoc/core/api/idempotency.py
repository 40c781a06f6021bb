"""The ``Idempotency-Key`` header for POST handlers.

Decorate a handler (``create`` or a POST ``@action``) with :func:`idempotent`::

    class SignalViewSet(viewsets.GenericViewSet):
        @idempotent
        def create(self, request): ...

A request without the header runs normally. With it:

* the first request inserts an in-flight :class:`~atoc.core.models.IdempotencyRecord`
  in its own short transaction (so a concurrent duplicate sees it), then runs the
  handler and stores its response in the same transaction as the handler's writes;
* the same key with the same request replays the stored status and body (header
  ``Idempotent-Replayed: true``) and runs nothing;
* the same key with a different method, path or body is refused with 422;
* the same key while the first request is still running is refused with 409;
* only successful (2xx) responses are kept: after an error the record is removed,
  so the client may retry with the same key.

A record left in flight by a process that died is taken over by a retry after
``ATOC_IDEMPOTENCY_IN_FLIGHT_TIMEOUT`` seconds. Keys are scoped per client (API key,
or user for sessions). The schema documents the header automatically.
"""

import functools
import hashlib
import json
import re
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from atoc.core.models import IdempotencyRecord, IdempotencyState

from .exceptions import Conflict, Unprocessable
from .permissions import request_api_key

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[!-~]{1,255}$"  # visible ASCII, no spaces
_KEY = re.compile(r"[!-~]{1,255}")


def idempotent(handler):
    """Make a DRF POST handler honour the ``Idempotency-Key`` header (see module doc)."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        return run_idempotent(request, key, lambda: handler(view, request, *args, **kwargs))

    wrapper.idempotent = True
    return wrapper


def is_idempotent(handler) -> bool:
    """Whether ``handler`` was decorated with :func:`idempotent` (used by the schema)."""
    return bool(getattr(handler, "idempotent", False))


def client_id(request) -> str:
    """Who owns the key namespace: the API key, else the session user."""
    api_key = request_api_key(request)
    if api_key is not None:
        return f"key:{api_key.pk}"
    return f"user:{request.user.pk}"


def request_fingerprint(request) -> str:
    """SHA-256 over method, path (with query) and the parsed body in canonical JSON."""
    body = json.dumps(
        request.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=JSONEncoder
    )
    digest = hashlib.sha256()
    for part in (request.method, request.get_full_path(), body):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _validate_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValidationError(
            {HEADER: [f"Use 1 to {MAX_KEY_LENGTH} visible ASCII characters (no spaces)."]},
            code="invalid",
        )
    return key


def run_idempotent(request, key: str, run):
    """Run ``run()`` at most once per (client, key) and replay its stored response."""
    key = _validate_key(key)
    client = client_id(request)
    fingerprint = request_fingerprint(request)  # parses the body: bad JSON fails here
    record = _claim(request, client=client, key=key, fingerprint=fingerprint)
    if not isinstance(record, IdempotencyRecord):
        return record  # a replayed response
    stored = False
    try:
        with transaction.atomic():
            response = run()
            if status.is_success(response.status_code):
                body = json.loads(json.dumps(response.data, cls=JSONEncoder))
                IdempotencyRecord.objects.filter(pk=record.pk).update(
                    state=IdempotencyState.DONE,
                    status_code=response.status_code,
                    response_body=body,
                    completed_at=timezone.now(),
                )
                stored = True
    finally:
        if not stored:
            IdempotencyRecord.objects.filter(
                pk=record.pk, state=IdempotencyState.IN_FLIGHT
            ).delete()
    return response


def _claim(request, *, client: str, key: str, fingerprint: str):
    """Insert the in-flight record, or answer from the existing one (replay, 409, 422)."""
    for _attempt in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    client=client,
                    key=key,
                    method=request.method,
                    path=request.path[:500],
                    fingerprint=fingerprint,
                    created_at=now,
                )
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(client=client, key=key).first()
        if existing is None:
            continue  # removed after a failure in the meantime: try to claim again
        if existing.fingerprint != fingerprint:
            raise Unprocessable(
                f"This {HEADER} was already used for a different request.",
                code="idempotency_key_reused",
            )
        if existing.state == IdempotencyState.DONE:
            return Response(
                existing.response_body,
                status=existing.status_code,
                headers={REPLAYED_HEADER: "true"},
            )
        timeout = timedelta(seconds=settings.ATOC_IDEMPOTENCY_IN_FLIGHT_TIMEOUT)
        if existing.created_at < now - timeout:
            taken = IdempotencyRecord.objects.filter(
                pk=existing.pk,
                state=IdempotencyState.IN_FLIGHT,
                created_at=existing.created_at,
            ).update(created_at=now)
            if taken:
                existing.created_at = now
                return existing
        raise Conflict(
            f"A request with this {HEADER} is still being processed; retry later.",
            code="idempotency_in_flight",
        )
    raise Conflict(f"Could not claim this {HEADER}; retry later.", code="idempotency_in_flight")
