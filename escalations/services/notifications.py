"""Delivering the notification outbox: email and signed webhooks, with retries.

Delivery is at least once, and a row is never sent by two workers at the same time.
A worker claims a few due rows in a short transaction (``SELECT … FOR UPDATE SKIP
LOCKED``), counting the attempt and pushing ``next_attempt_at`` a lease ahead, and
commits; it then sends outside any transaction (no row lock is held during network
I/O) and records the outcome only if the row is still its claim (same attempt
count). A worker that dies mid-send leaves the row to be claimed again when the
lease ends; the ``Idempotency-Key`` header lets a receiver drop that rare repeat.
Claims are small (``CLAIM_CHUNK``) so that every claimed row is sent well within
its lease. Failures back off exponentially (30 s, 1 min, 2 min … at most an hour);
after ``ATOC_NOTIFICATION_MAX_ATTEMPTS`` attempts the row is ``failed``, keeps its
``last_error`` and waits for an operator (:func:`notification_retry`).

Webhook bodies are signed: ``X-ATOC-Signature: sha256=<hex>`` is the HMAC-SHA256,
keyed with the counterpart's ``webhook_secret``, of ``"<X-ATOC-Timestamp>.<body>"``,
so a receiver can verify the body and refuse stale replays (see the README).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from atoc.core.exceptions import InvalidTransition
from atoc.core.history import get_system_user
from escalations.choices import (
    NotificationChannel,
    NotificationState,
    TimelineKind,
    WebhookFormat,
)
from escalations.models import Notification, TimelineEntry
from escalations.services.outbox import notifications_enqueue_delivery

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
LEASE = timedelta(minutes=5)
CLAIM_CHUNK = 10
SIGNATURE_HEADER = "X-ATOC-Signature"
TIMESTAMP_HEADER = "X-ATOC-Timestamp"
USER_AGENT = "ATOC-notifications/1"


class DeliveryError(Exception):
    """A message could not be delivered this time (it will be retried)."""


@dataclass
class DeliveryReport:
    """What one delivery run did: rows sent, rows to retry later, rows given up."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def max_attempts() -> int:
    """How many times a message is tried before it is marked failed (a setting)."""
    return max(int(settings.ATOC_NOTIFICATION_MAX_ATTEMPTS), 1)


def sign_webhook_body(*, secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-ATOC-Signature`` value of a webhook body."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: 30 s, 1 min, 2 min, … at most an hour."""
    return min(BACKOFF_BASE * (2 ** min(max(attempts - 1, 0), 16)), BACKOFF_CAP)


def notifications_deliver(*, now: datetime | None = None, batch_size: int = 100) -> dict:
    """Deliver at most ``batch_size`` due notifications; return the counts as JSON.

    ``{"sent": …, "retried": …, "failed": …}``. Safe on several workers at once:
    each row is claimed by one of them (see the module's description).
    """
    return asdict(notifications_deliver_due(now=now, batch_size=batch_size))


def notifications_deliver_due(
    *, now: datetime | None = None, batch_size: int = 100
) -> DeliveryReport:
    """Deliver at most ``batch_size`` due notifications, claiming a few at a time.

    Without ``now`` each claim reads the clock afresh, so a long run gives its later
    claims a full lease too; with ``now`` (tests) the whole run happens at that time.
    """
    report = DeliveryReport()
    actor = None
    remaining = batch_size
    while remaining > 0:
        at = now or timezone.now()
        chunk = min(CLAIM_CHUNK, remaining)
        claimed = _claim(now=at, batch_size=chunk)
        remaining -= len(claimed)
        if claimed and actor is None:
            actor = get_system_user()
        for notification in claimed:
            try:
                _send(notification, now=at)
            except DeliveryError as exc:
                if _record_failure(notification, error=str(exc), now=at, actor=actor):
                    report.failed += 1
                else:
                    report.retried += 1
            else:
                _record_success(notification, now=at, actor=actor)
                report.sent += 1
        if len(claimed) < chunk:
            break
    return report


@transaction.atomic
def _claim(*, now: datetime, batch_size: int) -> list[Notification]:
    """Take up to ``batch_size`` due rows for this worker: count the attempt, lease them."""
    rows = list(
        Notification.objects.filter(state=NotificationState.PENDING, next_attempt_at__lte=now)
        .select_related("counterpart")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("next_attempt_at", "pk")[:batch_size]
    )
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + LEASE
    # Notification is not history-tracked: a bulk update is the right tool here.
    Notification.objects.bulk_update(rows, ["attempts", "next_attempt_at"])
    return rows


def _still_claimed(notification: Notification):
    """The row, if no other worker claimed it since (same attempt count, still pending)."""
    return Notification.objects.filter(
        pk=notification.pk, state=NotificationState.PENDING, attempts=notification.attempts
    )


def _event_data(notification: Notification) -> dict:
    return {
        "notification": notification.pk,
        "event": notification.event,
        "channel": notification.channel,
        "counterpart": notification.counterpart_id,
        "counterpart_name": notification.counterpart.name,
        "attempts": notification.attempts,
    }


@transaction.atomic
def _record_success(notification: Notification, *, now: datetime, actor) -> None:
    updated = _still_claimed(notification).update(
        state=NotificationState.SENT, sent_at=now, last_error=""
    )
    if updated:
        TimelineEntry.objects.create(
            incident_id=notification.incident_id,
            kind=TimelineKind.NOTIFIED,
            actor=actor,
            at=now,
            data=_event_data(notification),
        )


@transaction.atomic
def _record_failure(notification: Notification, *, error: str, now: datetime, actor) -> bool:
    """Schedule a retry, or give up after the last attempt; True when it gave up."""
    gave_up = notification.attempts >= max_attempts()
    error = error[:2000]
    updated = _still_claimed(notification).update(
        state=NotificationState.FAILED if gave_up else NotificationState.PENDING,
        next_attempt_at=now + backoff(notification.attempts),
        last_error=error,
    )
    if updated and gave_up:
        TimelineEntry.objects.create(
            incident_id=notification.incident_id,
            kind=TimelineKind.NOTIFICATION_FAILED,
            actor=actor,
            at=now,
            data={**_event_data(notification), "error": error},
        )
    return gave_up


@transaction.atomic
def notification_retry(*, notification: Notification, actor) -> Notification:
    """Put a failed notification back in the outbox with a fresh budget of attempts.

    Retrying a pending notification is a no-op; a sent one is refused. The last
    error stays visible until the next attempt; a worker is asked to deliver on
    commit, and the periodic sweep picks it up otherwise.
    """
    notification = (
        Notification.objects.select_for_update(of=("self",))
        .select_related("counterpart")
        .get(pk=notification.pk)
    )
    if notification.state == NotificationState.PENDING:
        return notification
    if notification.state == NotificationState.SENT:
        raise InvalidTransition(
            f"Notification #{notification.pk} was sent at {notification.sent_at:%Y-%m-%d %H:%M}; "
            "there is nothing to retry.",
            field="state",
        )
    now = timezone.now()
    previous_attempts = notification.attempts
    notification.state = NotificationState.PENDING
    notification.attempts = 0
    notification.next_attempt_at = now
    notification.save(update_fields=["state", "attempts", "next_attempt_at"])
    TimelineEntry.objects.create(
        incident_id=notification.incident_id,
        kind=TimelineKind.NOTIFICATION_RETRIED,
        actor=actor,
        at=now,
        data={
            **_event_data(notification),
            "attempts": previous_attempts,
            "last_error": notification.last_error,
        },
    )
    notifications_enqueue_delivery()
    return notification


# --- sending ------------------------------------------------------------------------


def _send(notification: Notification, *, now: datetime) -> None:
    if notification.channel == NotificationChannel.EMAIL:
        _send_email(notification)
    else:
        _send_webhook(notification, now=now)


def _headline(payload: dict) -> str:
    return (
        f"{payload.get('event', 'update')}: incident #{payload.get('incident')} "
        f"({payload.get('kind')}) on {payload.get('agent')}"
    )


def _due_line(payload: dict) -> str:
    if payload.get("state") == "open" and payload.get("ack_due_at"):
        return f"Acknowledge by {payload['ack_due_at']}"
    if payload.get("state") == "acknowledged" and payload.get("decision_due_at"):
        return f"Decide by {payload['decision_due_at']}"
    return f"State: {payload.get('state', '?')}"


def _send_email(notification: Notification) -> None:
    counterpart = notification.counterpart
    payload = notification.payload
    if not counterpart.email:
        raise DeliveryError("The counterpart has no email address any more.")
    subject = (
        f"[ATOC {payload.get('severity', '')}] {payload.get('event', 'update')}: "
        f"incident #{payload.get('incident')} on {payload.get('agent')}"
    )
    body = "\n".join(
        [
            _headline(payload),
            f"Severity: {payload.get('severity', '?')}",
            _due_line(payload),
            "",
            "Details:",
            json.dumps(payload, indent=2, sort_keys=True),
        ]
    )
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [counterpart.email])
    except Exception as exc:  # any transport error is a retry, never a crash
        raise DeliveryError(f"Email failed: {exc}") from exc


def webhook_document(notification: Notification) -> dict:
    """The JSON a counterpart's webhook receives, in its ``webhook_format``.

    ATOC's own format is the notification's payload plus its id; the Slack format is
    an incoming-webhook message (``text`` and ``blocks``).
    """
    payload = notification.payload
    if notification.counterpart.webhook_format != WebhookFormat.SLACK:
        return {"notification": notification.pk, **payload}
    text = (
        f"*{payload.get('severity')}* {payload.get('event')}: incident "
        f"#{payload.get('incident')} ({payload.get('kind')}) on `{payload.get('agent')}`"
    )
    context = f"{_due_line(payload)} · ATOC notification #{notification.pk}"
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }


def _send_webhook(notification: Notification, *, now: datetime) -> None:
    counterpart = notification.counterpart
    if not counterpart.webhook_url.startswith(("https://", "http://")):
        raise DeliveryError("The counterpart has no http(s) webhook URL any more.")
    body = json.dumps(
        webhook_document(notification), sort_keys=True, separators=(",", ":")
    ).encode()
    timestamp = str(int(now.timestamp()))
    post_webhook(
        url=counterpart.webhook_url,
        body=body,
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign_webhook_body(
                secret=counterpart.webhook_secret, timestamp=timestamp, body=body
            ),
            "Idempotency-Key": notification.dedupe_key,
        },
    )


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer that delivered nothing (urllib would re-send as a GET)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_RefuseRedirects)


def post_webhook(*, url: str, body: bytes, headers: dict[str, str]) -> None:
    """POST the body; any non-2xx answer (a redirect too) or network error is a DeliveryError."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) checked
    timeout = settings.ATOC_WEBHOOK_TIMEOUT_SECONDS
    try:
        with _opener.open(request, timeout=timeout) as response:
            if not 200 <= response.status < 300:
                raise DeliveryError(f"Webhook answered {response.status}.")
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"Webhook answered {exc.code}.") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DeliveryError(f"Webhook unreachable: {exc}") from exc
    except http.client.HTTPException as exc:  # not HTTP at all (a bad status line, …)
        raise DeliveryError(f"Webhook answered something that is not HTTP: {exc!r}") from exc
