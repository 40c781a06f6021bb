"""Silences (maintenance windows): who suppressed what, when and why."""

from __future__ import annotations

from datetime import datetime, time

from django.db import transaction
from django.utils import timezone

from atoc.core.exceptions import ValidationFailed
from atoc.core.history import save_with_history
from atoc.core.validation import clean_or_raise
from escalations.choices import SilenceRecurrence
from escalations.models import Silence
from trust.models import Agent, Component


@transaction.atomic
def silence_create(
    *,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    actor,
    agent: Agent | None = None,
    component: Component | None = None,
    recurrence: str = SilenceRecurrence.NONE,
    window_start: time | None = None,
    window_end: time | None = None,
) -> Silence:
    """Suppress new incidents for an agent or a component (exactly one) for a period.

    Recurring silences (daily, weekly) apply only inside ``window_start`` –
    ``window_end`` (UTC) on each day (or weekday) of the period. Signals observed
    inside a silence are still stored.
    """
    if (agent is None) == (component is None):
        raise ValidationFailed("Silence either an agent or a component.", field="agent")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why the silence is needed.", field="reason")
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not isinstance(value, datetime) or timezone.is_naive(value):
            raise ValidationFailed("Give a date and time with its time zone.", field=name)
    if ends_at <= starts_at:
        raise ValidationFailed("The silence must end after it starts.", field="ends_at")
    if recurrence not in SilenceRecurrence.values:
        raise ValidationFailed(
            f"Unknown recurrence {recurrence!r}; use one of {', '.join(SilenceRecurrence.values)}.",
            field="recurrence",
        )
    if recurrence == SilenceRecurrence.NONE:
        if window_start is not None or window_end is not None:
            raise ValidationFailed(
                "Only a recurring silence has a daily window.", field="window_start"
            )
    elif window_start is None or window_end is None or window_start == window_end:
        raise ValidationFailed(
            "A recurring silence needs a daily window (start and end differ).",
            field="window_start",
        )
    silence = Silence(
        agent=agent,
        component=component,
        starts_at=starts_at,
        ends_at=ends_at,
        recurrence=recurrence,
        window_start=window_start,
        window_end=window_end,
        reason=reason,
        created_by=actor,
    )
    clean_or_raise(silence)
    return save_with_history(silence, actor=actor, reason=f"Silence created: {reason}")
