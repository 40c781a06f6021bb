"""Delivering the outbox: email, signed webhooks, retries with backoff, leases."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from escalations.choices import NotificationChannel, NotificationState, SignalKind
from escalations.models import Notification
from escalations.services import notifications as delivery
from escalations.services.notifications import (
    DeliveryError,
    backoff,
    max_attempts,
    notifications_deliver_due,
)
from tests.escalations.support import ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def posted(monkeypatch):
    """Webhook requests, captured instead of sent."""
    calls = []

    def fake_post(*, url, body, headers):
        calls.append({"url": url, "body": body, "headers": headers})

    monkeypatch.setattr(delivery, "post_webhook", fake_post)
    return calls


def test_emails_are_sent_and_marked_sent(agent, actor):
    incident = ingest(agent, actor, kind=SignalKind.PACT_BREACH).incident
    count = incident.notifications.count()

    report = notifications_deliver_due()

    assert report.sent == count == len(mail.outbox)
    assert set(incident.notifications.values_list("state", flat=True)) == {"sent"}
    subjects = {message.subject for message in mail.outbox}
    assert subjects == {f"[ATOC SEV3] opened: incident #{incident.pk} on {agent.slug}"}
    assert notifications_deliver_due().sent == 0  # nothing twice


def test_webhook_bodies_are_signed_with_the_counterparts_secret(agent, actor, defaults, posted):
    product = defaults.counterparts["product"]
    product.webhook_url = "https://hooks.example.com/product"
    product.save()
    incident = ingest(agent, actor, kind=SignalKind.PACT_BREACH).incident

    notifications_deliver_due()

    (call,) = posted
    timestamp = call["headers"]["X-ATOC-Timestamp"]
    expected = hmac.new(
        product.webhook_secret.encode(), timestamp.encode() + b"." + call["body"], hashlib.sha256
    ).hexdigest()
    assert call["headers"]["X-ATOC-Signature"] == f"sha256={expected}"
    document = json.loads(call["body"])
    assert (document["incident"], document["event"], document["agent"]) == (
        incident.pk,
        "opened",
        agent.slug,
    )
    webhook = incident.notifications.get(channel=NotificationChannel.WEBHOOK)
    assert call["headers"]["Idempotency-Key"] == webhook.dedupe_key


def test_slack_webhooks_get_a_text_message(agent, actor, defaults, posted):
    platform = defaults.counterparts["platform"]
    platform.webhook_url = "https://hooks.slack.example.com/T0/B0/x"
    platform.webhook_format = "slack"
    platform.save()
    ingest(agent, actor, kind=SignalKind.CUSTOM)

    notifications_deliver_due()

    (call,) = posted
    assert set(json.loads(call["body"])) == {"text", "blocks"}
    assert agent.slug in json.loads(call["body"])["text"]


def test_a_failed_webhook_is_retried_with_backoff_then_given_up(
    agent, actor, defaults, monkeypatch
):
    platform = defaults.counterparts["platform"]
    platform.webhook_url = "https://hooks.example.com/down"
    platform.email = ""
    platform.save()

    def down(**kwargs):
        raise DeliveryError("Webhook answered 503.")

    monkeypatch.setattr(delivery, "post_webhook", down)
    ingest(agent, actor, kind=SignalKind.CUSTOM)  # SEV4: platform only
    row = Notification.objects.get()
    now = timezone.now()

    report = notifications_deliver_due(now=now)

    row.refresh_from_db()
    assert (report.retried, row.attempts, row.state) == (1, 1, NotificationState.PENDING)
    assert row.next_attempt_at == now + backoff(1) and row.last_error == "Webhook answered 503."
    assert notifications_deliver_due(now=now).retried == 0  # not due again yet
    for _ in range(max_attempts() - 1):
        now += timedelta(hours=1)
        notifications_deliver_due(now=now)
    row.refresh_from_db()
    assert (row.attempts, row.state) == (max_attempts(), NotificationState.FAILED)


def test_a_claimed_row_is_leased_so_a_second_worker_skips_it(agent, actor, monkeypatch):
    ingest(agent, actor)
    now = timezone.now()
    claimed = delivery._claim(now=now, batch_size=100)  # a worker that then dies

    assert claimed
    assert notifications_deliver_due(now=now).sent == 0
    assert notifications_deliver_due(now=now + delivery.LEASE).sent == len(claimed)


def test_backoff_doubles_up_to_an_hour():
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff(20) == timedelta(hours=1)
