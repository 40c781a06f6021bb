"""Silences: when a recurring window is in force, and creating one through the service."""

from datetime import UTC, datetime, time, timedelta

import pytest

from atoc.core.exceptions import ValidationFailed
from escalations.choices import SilenceRecurrence
from escalations.models import Silence
from escalations.services.silences import silence_create
from tests.escalations.support import refused

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday


def silence(**overrides) -> Silence:
    fields = {
        "starts_at": START,
        "ends_at": START + timedelta(days=30),
        "recurrence": SilenceRecurrence.NONE,
        "reason": "Maintenance",
    }
    return Silence(**{**fields, **overrides})


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return START + timedelta(days=day, hours=hour, minutes=minute)


def test_a_one_off_silence_covers_its_period():
    s = silence()
    assert s.covers(START) and s.covers(at(29, 23))
    assert not s.covers(START - timedelta(seconds=1)) and not s.covers(at(30, 0))


def test_a_daily_silence_covers_its_window_every_day():
    s = silence(recurrence="daily", window_start=time(2), window_end=time(4))
    assert s.covers(at(0, 2)) and s.covers(at(12, 3, 59))
    assert not s.covers(at(12, 4)) and not s.covers(at(12, 1, 59))
    assert not s.covers(at(31, 3))  # after the period


def test_a_daily_window_may_cross_midnight():
    s = silence(recurrence="daily", window_start=time(22), window_end=time(2))
    assert s.covers(at(3, 23)) and s.covers(at(4, 1, 30))
    assert not s.covers(at(4, 2)) and not s.covers(at(4, 21))


def test_a_weekly_silence_covers_the_window_on_its_weekday_only():
    s = silence(recurrence="weekly", window_start=time(22), window_end=time(2))
    assert s.covers(at(7, 23))  # Monday night
    assert s.covers(at(8, 1))  # …into Tuesday morning
    assert not s.covers(at(8, 23))  # Tuesday night


@pytest.mark.django_db
def test_creating_a_silence_records_who_and_why(agent, actor):
    created = silence_create(
        agent=agent, starts_at=START, ends_at=at(1, 0), reason="Model upgrade", actor=actor
    )
    assert created.created_by == actor
    assert created.history.get().history_user == actor


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"agent": None}, "agent"),
        ({"reason": " "}, "reason"),
        ({"ends_at": START}, "ends_at"),
        ({"starts_at": datetime(2026, 3, 2)}, "starts_at"),
        ({"recurrence": "hourly"}, "recurrence"),
        ({"recurrence": "daily"}, "window_start"),
        ({"window_start": time(1), "window_end": time(2)}, "window_start"),
    ],
)
def test_a_bad_silence_is_refused(agent, actor, changes, field):
    arguments = {
        "agent": agent,
        "starts_at": START,
        "ends_at": at(1, 0),
        "reason": "Upgrade",
        "actor": actor,
    }
    with refused(ValidationFailed, field=field):
        silence_create(**{**arguments, **changes})
