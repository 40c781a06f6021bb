from django.db import models
from django.db.models import Q
from django.utils import timezone

from escalations.choices import NotificationChannel, NotificationState


class Notification(models.Model):
    """An outbox row: one message to one counterpart over one channel.

    Written in the transaction of the transition that causes it and delivered by a
    worker with retries and backoff. ``dedupe_key`` is unique, so a transition that
    is retried or delivered twice queues the message once.
    """

    incident = models.ForeignKey(
        "escalations.Incident", on_delete=models.PROTECT, related_name="notifications"
    )
    counterpart = models.ForeignKey(
        "escalations.Counterpart",
        on_delete=models.PROTECT,
        related_name="notifications",
        db_index=False,
    )
    channel = models.CharField(max_length=8, choices=NotificationChannel.choices)
    event = models.CharField(max_length=32, help_text="opened, promoted, reminder, …")
    payload = models.JSONField(default=dict)
    state = models.CharField(
        max_length=8, choices=NotificationState.choices, default=NotificationState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Unique by a constraint rather than ``unique=True``: that would add a second,
    # pattern-matching index, which only slows the outbox's bulk inserts (the admin
    # searches the key by exact match).
    dedupe_key = models.CharField(max_length=200)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state=NotificationState.PENDING),
                name="notification_pending_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key"], name="notification_unique_dedupe_key"),
            models.CheckConstraint(
                condition=Q(channel__in=NotificationChannel.values),
                name="notification_channel_valid",
            ),
            models.CheckConstraint(
                condition=Q(state__in=NotificationState.values), name="notification_state_valid"
            ),
            models.CheckConstraint(
                condition=~Q(state=NotificationState.SENT) | Q(sent_at__isnull=False),
                name="notification_sent_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.counterpart_id} by {self.channel} ({self.state})"
