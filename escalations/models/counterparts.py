import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from escalations.choices import CounterpartFunction, CounterpartKind, WebhookFormat


def new_webhook_secret() -> str:
    """A fresh HMAC key for signing webhook bodies sent to a counterpart."""
    return secrets.token_hex(32)


class Counterpart(models.Model):
    """A named person or rotation that incidents are routed to, and how to reach them.

    Counterparts serve a function (platform, security, product…), optionally for one
    team only. Webhook bodies are signed with ``webhook_secret`` (HMAC-SHA256) so the
    receiver can verify them; the secret is kept out of history.
    """

    name = models.CharField(max_length=120, unique=True)
    function = models.CharField(max_length=16, choices=CounterpartFunction.choices)
    kind = models.CharField(
        max_length=16, choices=CounterpartKind.choices, default=CounterpartKind.ROTATION
    )
    team = models.ForeignKey(
        "trust.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="counterparts",
        help_text="Leave empty for a counterpart that serves every team.",
    )
    email = models.EmailField(blank=True)
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_format = models.CharField(
        max_length=8, choices=WebhookFormat.choices, default=WebhookFormat.ATOC
    )
    webhook_secret = models.CharField(
        max_length=128,
        default=new_webhook_secret,
        help_text="HMAC-SHA256 key for the X-ATOC-Signature header of webhook bodies.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords(excluded_fields=["webhook_secret"])

    class Meta:
        ordering = ["function", "name"]
        indexes = [models.Index(fields=["function", "active"], name="counterpart_function_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(email="") | ~Q(webhook_url=""), name="counterpart_reachable"
            ),
            models.CheckConstraint(
                condition=Q(function__in=CounterpartFunction.values),
                name="counterpart_function_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=CounterpartKind.values), name="counterpart_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(webhook_format__in=WebhookFormat.values),
                name="counterpart_webhook_format_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.function})"
