"""Delivering the outbox for real: a webhook receiver on 127.0.0.1, email, retries, races."""

import json
import logging
import socket
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db import connections
from django.utils import timezone
from kombu.exceptions import OperationalError

from atoc.core.exceptions import InvalidTransition
from escalations.choices import (
    NotificationChannel,
    NotificationState,
    SignalKind,
    TimelineKind,
)
from escalations.models import Notification, TimelineEntry
from escalations.services import notifications as delivery
from escalations.services import outbox
from escalations.services.notifications import (
    backoff,
    notification_retry,
    notifications_deliver,
)
from tests.escalations.receiver import start_receiver, verify_signature
from tests.escalations.support import ingest
from tests.factories import AgentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def platform(defaults, receiver):
    """The platform rotation (it gets every custom signal) reached by the local receiver."""
    counterpart = defaults.counterparts["platform"]
    counterpart.webhook_url = receiver.url
    counterpart.save()
    return counterpart


def webhook_only(counterpart):
    counterpart.email = ""
    counterpart.save()
    return counterpart


def test_the_receiver_gets_a_body_signed_with_the_counterparts_secret(
    agent, actor, platform, receiver
):
    incident = ingest(agent, actor, kind=SignalKind.CUSTOM).incident
    webhook = incident.notifications.get(channel=NotificationChannel.WEBHOOK)

    report = notifications_deliver()

    assert report == {"sent": 2, "retried": 0, "failed": 0}  # the email and the webhook
    (request,) = receiver.requests
    assert request.path == "/hooks/atoc"
    assert request.headers["Content-Type"] == "application/json"
    assert verify_signature(
        secret=platform.webhook_secret, headers=request.headers, body=request.body
    )
    assert not verify_signature(secret="another-secret", headers=request.headers, body=request.body)
    assert abs(int(request.headers["X-ATOC-Timestamp"]) - timezone.now().timestamp()) < 60
    assert request.headers["Idempotency-Key"] == webhook.dedupe_key
    document = json.loads(request.body)
    assert document["notification"] == webhook.pk
    assert (document["incident"], document["event"], document["agent"]) == (
        incident.pk,
        "opened",
        agent.slug,
    )
    assert (document["severity"], document["state"]) == ("SEV4", "open")
    assert document["ack_due_at"] == incident.ack_due_at.isoformat()
    webhook.refresh_from_db()
    assert (webhook.state, webhook.attempts, webhook.last_error) == ("sent", 1, "")
    assert webhook.sent_at is not None


def test_each_sent_message_is_on_the_incidents_timeline(agent, actor, platform, receiver):
    incident = ingest(agent, actor, kind=SignalKind.CUSTOM).incident

    notifications_deliver()

    notified = TimelineEntry.objects.filter(incident=incident, kind=TimelineKind.NOTIFIED)
    assert sorted(row.data["channel"] for row in notified) == ["email", "webhook"]
    assert {row.data["counterpart_name"] for row in notified} == {platform.name}
    assert {row.actor.username for row in notified} == {"atoc-system"}


def test_a_slack_counterpart_gets_a_slack_message(agent, actor, platform, receiver):
    platform.webhook_format = "slack"
    platform.save()
    incident = ingest(agent, actor, kind=SignalKind.CUSTOM).incident

    notifications_deliver()

    (request,) = receiver.requests
    assert verify_signature(
        secret=platform.webhook_secret, headers=request.headers, body=request.body
    )
    message = json.loads(request.body)
    assert set(message) == {"text", "blocks"}
    assert f"#{incident.pk}" in message["text"] and agent.slug in message["text"]
    assert "SEV4" in message["text"]
    section, context = message["blocks"]
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": message["text"]}}
    assert context["type"] == "context"
    assert context["elements"][0]["text"].startswith("Acknowledge by ")


def test_email_goes_through_djangos_email_backend(agent, actor, defaults):
    incident = ingest(agent, actor, kind=SignalKind.PACT_BREACH).incident  # SEV3
    recipients = sorted(
        incident.notifications.filter(channel="email").values_list("counterpart__email", flat=True)
    )

    assert notifications_deliver()["sent"] == len(recipients)

    assert sorted(message.to[0] for message in mail.outbox) == recipients
    message = mail.outbox[0]
    assert message.subject == f"[ATOC SEV3] opened: incident #{incident.pk} on {agent.slug}"
    assert f"Acknowledge by {incident.ack_due_at.isoformat()}" in message.body
    assert '"kind": "pact_breach"' in message.body


def test_a_failing_receiver_is_retried_with_backoff_then_marked_failed(
    agent, actor, platform, receiver
):
    webhook_only(platform)
    receiver.statuses = [500]
    incident = ingest(agent, actor, kind=SignalKind.CUSTOM).incident
    row = Notification.objects.get()
    now = timezone.now()
    waits = []

    for attempt in range(1, 7):  # ATOC_NOTIFICATION_MAX_ATTEMPTS defaults to 6
        report = notifications_deliver(now=now)
        row.refresh_from_db()
        assert row.attempts == attempt and row.last_error == "Webhook answered 500."
        if attempt < 6:
            assert report == {"sent": 0, "retried": 1, "failed": 0}
            assert row.state == NotificationState.PENDING
            waits.append(row.next_attempt_at - now)
            assert notifications_deliver(now=now)["retried"] == 0  # not due again yet
            now = row.next_attempt_at
        else:
            assert report == {"sent": 0, "retried": 0, "failed": 1}

    assert waits == [backoff(n) for n in range(1, 6)]
    assert [w.total_seconds() for w in waits] == [30, 60, 120, 240, 480]
    assert row.state == NotificationState.FAILED
    assert len(receiver.requests) == 6
    assert notifications_deliver(now=now + timedelta(days=1))["failed"] == 0  # left alone
    failed = TimelineEntry.objects.get(incident=incident, kind=TimelineKind.NOTIFICATION_FAILED)
    assert failed.data["error"] == "Webhook answered 500." and failed.data["attempts"] == 6


def test_the_number_of_attempts_is_a_setting(agent, actor, platform, receiver, settings):
    settings.ATOC_NOTIFICATION_MAX_ATTEMPTS = 2
    webhook_only(platform)
    receiver.statuses = [503]
    ingest(agent, actor, kind=SignalKind.CUSTOM)
    now = timezone.now()

    assert notifications_deliver(now=now)["retried"] == 1
    assert notifications_deliver(now=now + timedelta(minutes=1))["failed"] == 1

    assert Notification.objects.get().state == NotificationState.FAILED


def test_a_receiver_that_recovers_gets_the_message_on_the_next_attempt(
    agent, actor, platform, receiver
):
    webhook_only(platform)
    receiver.statuses = [502, 200]
    ingest(agent, actor, kind=SignalKind.CUSTOM)
    now = timezone.now()

    notifications_deliver(now=now)
    report = notifications_deliver(now=now + backoff(1))

    row = Notification.objects.get()
    assert report["sent"] == 1 and (row.state, row.attempts, row.last_error) == ("sent", 2, "")
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body  # same message again


def test_a_redirect_or_an_unreachable_receiver_is_a_failure(agent, actor, platform, receiver):
    webhook_only(platform)
    receiver.statuses = [302]
    ingest(agent, actor, kind=SignalKind.CUSTOM)
    now = timezone.now()

    notifications_deliver(now=now)

    row = Notification.objects.get()
    assert row.last_error == "Webhook answered 302." and len(receiver.requests) == 1
    platform.webhook_url = "http://127.0.0.1:9/closed"  # the discard port: nothing listens
    platform.save()
    notifications_deliver(now=row.next_attempt_at)
    row.refresh_from_db()
    assert row.attempts == 2 and row.last_error.startswith("Webhook unreachable")


def test_a_receiver_that_does_not_speak_http_is_a_recorded_failure(agent, actor, platform):
    listener = socket.create_server(("127.0.0.1", 0))

    def answer_garbage():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HELLO garbage\r\n\r\n")

    threading.Thread(target=answer_garbage, daemon=True).start()
    webhook_only(platform)
    platform.webhook_url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    platform.save()
    ingest(agent, actor, kind=SignalKind.CUSTOM)

    report = notifications_deliver(now=timezone.now())
    listener.close()

    row = Notification.objects.get()
    assert report["sent"] == 0 and row.state == NotificationState.PENDING and row.attempts == 1
    assert row.last_error.startswith("Webhook answered something that is not HTTP")


def test_a_worker_whose_lease_ran_out_does_not_record_over_the_next_claim(agent, actor, platform):
    webhook_only(platform)
    ingest(agent, actor, kind=SignalKind.CUSTOM)
    now = timezone.now()
    (first,) = delivery._claim(now=now, batch_size=10)  # a worker that stalls
    (second,) = delivery._claim(now=now + delivery.LEASE, batch_size=10)

    delivery._record_success(first, now=now, actor=actor)  # too late: not its claim

    row = Notification.objects.get()
    assert (row.state, row.attempts) == (NotificationState.PENDING, 2)
    delivery._record_success(second, now=now, actor=actor)
    row.refresh_from_db()
    assert row.state == NotificationState.SENT
    assert TimelineEntry.objects.filter(kind=TimelineKind.NOTIFIED).count() == 1


def test_a_failed_notification_can_be_retried_by_an_operator(
    agent, actor, platform, receiver, django_capture_on_commit_callbacks, monkeypatch
):
    webhook_only(platform)
    receiver.statuses = [500, 200]
    incident = ingest(agent, actor, kind=SignalKind.CUSTOM).incident
    row = Notification.objects.get()
    row.state, row.attempts = NotificationState.FAILED, 6
    row.last_error = "Webhook answered 500."
    row.save()
    sent = []
    monkeypatch.setattr(outbox.current_app, "send_task", lambda name, **kw: sent.append(name))

    with django_capture_on_commit_callbacks(execute=True):
        notification_retry(notification=row, actor=actor)

    row.refresh_from_db()
    assert (row.state, row.attempts) == (NotificationState.PENDING, 0)
    assert row.last_error == "Webhook answered 500."  # until the next attempt
    assert sent == ["escalations.deliver_notifications"]
    retried = TimelineEntry.objects.get(incident=incident, kind=TimelineKind.NOTIFICATION_RETRIED)
    assert retried.actor == actor and retried.data["attempts"] == 6
    assert notification_retry(notification=row, actor=actor).state == "pending"  # no-op
    receiver.statuses = [200]
    assert notifications_deliver()["sent"] == 1
    with pytest.raises(InvalidTransition):
        notification_retry(notification=row, actor=actor)


def test_queued_notifications_kick_the_delivery_task_by_name_after_commit(
    agent, actor, defaults, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(outbox.current_app, "send_task", lambda name, **kw: sent.append(name))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ingest(agent, actor, kind=SignalKind.CUSTOM)
    assert sent == []  # nothing reaches the broker before the commit
    for callback in callbacks:
        callback()

    assert sent == ["escalations.deliver_notifications"]


def test_a_broker_outage_never_breaks_the_transaction_that_queued(
    agent, actor, defaults, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def broker_down(name, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(outbox.current_app, "send_task", broker_down)

    with (
        caplog.at_level(logging.WARNING, logger="escalations.services.outbox"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        incident = ingest(agent, actor, kind=SignalKind.CUSTOM).incident

    assert incident.notifications.filter(state="pending").exists()  # the sweep sends them
    assert "periodic delivery sweep" in caplog.text
    assert notifications_deliver()["sent"] == incident.notifications.count()


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_once_send_each_row_once(defaults):
    receiver, server = start_receiver()
    try:
        receiver.delay = 0.01
        platform = defaults.counterparts["platform"]
        platform.webhook_url = receiver.url
        platform.save()
        actor = UserFactory()
        for _ in range(30):
            ingest(AgentFactory(), actor, kind=SignalKind.CUSTOM)
        rows = Notification.objects.count()
        assert rows == 60  # an email and a webhook per incident
        barrier = threading.Barrier(2)
        reports, errors = [], []

        def deliver():
            try:
                barrier.wait()
                reports.append(notifications_deliver(batch_size=100))
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.shutdown()
        server.server_close()

    assert errors == []
    assert sum(report["sent"] for report in reports) == rows
    assert all(report["sent"] for report in reports)  # both workers took a share
    keys = [request.headers["Idempotency-Key"] for request in receiver.requests]
    assert len(keys) == len(set(keys)) == 30
    assert len(mail.outbox) == 30
    assert set(Notification.objects.values_list("state", "attempts")) == {("sent", 1)}
    assert TimelineEntry.objects.filter(kind=TimelineKind.NOTIFIED).count() == rows


def test_the_readme_verification_snippet_accepts_a_real_delivery(agent, actor, platform, receiver):
    readme = (settings.BASE_DIR / "README.md").read_text()
    section = readme.split("## Webhook signatures", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(snippet, namespace)  # the documented receiver code, as a reader would copy it
    verify = namespace["verify_atoc_webhook"]
    ingest(agent, actor, kind=SignalKind.CUSTOM)

    notifications_deliver()

    (request,) = receiver.requests
    assert verify(platform.webhook_secret, request.headers, request.body)
    assert not verify(platform.webhook_secret, request.headers, request.body + b" ")
    assert not verify("wrong", request.headers, request.body)
