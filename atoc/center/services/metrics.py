"""The daily metrics snapshot: today's values stored so trends have history."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from atoc.center import metrics
from atoc.center.models import MetricSnapshot
from atoc.center.services.locks import job_lock
from atoc.core.exceptions import ValidationFailed


def snapshot_moment(day: date, *, now: datetime) -> datetime:
    """The instant a day's snapshot is taken at: now for today, else the day's end (UTC)."""
    if day >= now.date():
        return now
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


@transaction.atomic
def metrics_snapshot_take(
    *, day: date | None = None, window_days: int | None = None, now: datetime | None = None
) -> int:
    """Compute every metric for ``day`` (today by default) and store it; return the rows.

    Running it again the same day replaces that day's values (one row per day,
    metric and scope), so the daily job is safe to run twice. A past ``day``
    rebuilds its snapshot from the data as it stood at the end of that day.
    """
    now = now or timezone.now()
    day = day or now.date()
    if day > now.date():
        raise ValidationFailed("A snapshot cannot be taken of a future day.", field="day")
    window_days = window_days or settings.ATOC_METRICS_WINDOW_DAYS
    if window_days < 1:
        raise ValidationFailed("The window is at least one day.", field="window_days")
    at = snapshot_moment(day, now=now)
    values = metrics.compute_all(at=at, window=timedelta(days=window_days))
    rows = [
        MetricSnapshot(
            day=day,
            metric=value.metric,
            scope=value.scope[:80],
            window_days=window_days,
            value=value.value,
            count=value.count,
            details=value.details,
            computed_at=now,
        )
        for value in values
    ]
    # Replace the day as a whole, so a scope that disappeared (a renamed team) does
    # not linger; concurrent runs wait for each other.
    job_lock("center.snapshot_metrics")
    MetricSnapshot.objects.filter(day=day).delete()
    MetricSnapshot.objects.bulk_create(rows)
    return len(rows)
