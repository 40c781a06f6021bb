"""What the center's admin pages share: scoped actions and forms, per-row reporting, estimates."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

from atoc.center.access import authorize, scope_team_ids
from atoc.core.exceptions import DomainError
from trust.admin.base import ServiceRefused

# The largest primary key a bigint column holds, and the deepest page a list offers.
ID_MAX = 2**63 - 1
PAGE_MAX = 1_000_000


def _ascii_number(raw: object, *, upper: int) -> int | None:
    """``raw`` as an integer when it is ASCII decimal digits, capped at ``upper + 1``.

    ``str.isdigit`` also accepts '²' or '٣', which ``int`` refuses or reads as a digit
    nobody typed; only 0-9 count here. The length is checked before ``int`` so that a
    number of any size is read cheaply: anything past ``upper`` is ``upper + 1``.
    """
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit():
        return None
    digits = raw.lstrip("0") or "0"
    if len(digits) > len(str(upper)):
        return upper + 1
    return min(int(digits), upper + 1)


def parse_id(raw: object) -> int | None:
    """A primary key from a request (``"42"``), or None when ``raw`` cannot be one."""
    value = _ascii_number(raw, upper=ID_MAX)
    return value if value is not None and 1 <= value <= ID_MAX else None


def parse_page(raw: object) -> int:
    """A page number from a request: 1 when ``raw`` is not a number, at most ``PAGE_MAX``.

    Like Django's paginator, a page past the end shows the last page; the caller finds
    the end, this only keeps the number within what the database can offset.
    """
    value = _ascii_number(raw, upper=PAGE_MAX)
    return 1 if value is None else min(max(value, 1), PAGE_MAX)


def in_scope(user, team_id: int | None) -> bool:
    """Whether ``user`` may act on objects of the team ``team_id``."""
    allowed = scope_team_ids(user)
    return allowed is None or team_id in allowed


@contextmanager
def refused_on(field: str) -> Iterator[None]:
    """Show a refusal (``authorize`` and the like) on the add form's ``field``.

    Raised from ``save_model``, the refusal rolls back the change view's
    transaction and the form comes back with the error next to ``field``.
    """
    try:
        yield
    except DomainError as exc:
        raise ServiceRefused(exc, field=field) from exc


def authorize_on_form(user, *, field: str, permission: str, team_id: int | None, what: str):
    """``authorize`` for an add form: a refusal shows on ``field`` and nothing is saved."""
    with refused_on(field):
        authorize(user, permission=permission, team_ids=[team_id], what=what)


def scoped_actions(actions: dict, *, team_field: str) -> dict:
    """Wrap changelist actions so an operator limited to teams acts only on those rows.

    Rows outside the operator's teams are held back with an error naming them;
    the action runs on the rest (nothing runs when none is left).
    """
    wrapped = {}
    for name, (func, action_name, description) in actions.items():
        wrapped[name] = (_scoped(func, team_field), action_name, description)
    return wrapped


def _scoped(func, team_field: str):
    @functools.wraps(func)
    def action(modeladmin, request, queryset):
        allowed = scope_team_ids(request.user)
        if allowed is not None:
            outside = list(
                queryset.exclude(**{f"{team_field}__in": allowed})
                .order_by("pk")
                .values_list("pk", flat=True)[:20]
            )
            if outside:
                modeladmin.message_user(
                    request,
                    "Not done on rows outside your teams: "
                    + ", ".join(f"#{pk}" for pk in outside)
                    + ". You act only on agents of your teams.",
                    messages.ERROR,
                )
            queryset = queryset.filter(**{f"{team_field}__in": allowed})
            if not queryset.exists():
                return None
        return func(modeladmin, request, queryset)

    return action


class EstimatedCountPaginator(Paginator):
    """Exact counts for filtered lists; the planner's estimate for a whole large table.

    Counting a million rows costs more than showing a page of them. Unfiltered on
    PostgreSQL, when ``pg_class.reltuples`` says the table holds more than
    ``threshold`` rows, that estimate is the count (the last pages may then be
    approximate); otherwise, and for any filtered list, the count is exact.
    """

    threshold = 100_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is not None and not query.where and not query.distinct:
            estimate = table_estimate(queryset.model, queryset.db)
            if estimate is not None and estimate > self.threshold:
                return estimate
        return super().count


class PageFirstPaginator(EstimatedCountPaginator):
    """Picks a page's rows from the table alone, then joins only those rows.

    A changelist selects its rows with their agent, team, severity and owner. Left to
    itself the planner may join every matching row (tens of thousands of overdue
    incidents) before sorting and cutting out one page. Here the page's keys come
    first, sorted and cut on the table (and whatever the ordering itself needs), and
    one more query fetches those rows with everything the list shows, in that order.
    """

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        queryset = self.object_list
        if not hasattr(queryset, "query") or bottom >= top:
            return super().page(number)
        keys = list(queryset.select_related(None).values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in queryset.order_by().filter(pk__in=keys)}
        return self._get_page([rows[key] for key in keys if key in rows], number, self)


def table_estimate(model, alias: str) -> int | None:
    """The planner's row estimate for the model's table (PostgreSQL), else None."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [model._meta.db_table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None
