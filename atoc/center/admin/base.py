"""What the center's admin pages share: scoped actions and forms, per-row reporting, estimates."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

from atoc.center.access import scope_team_ids
from atoc.core.exceptions import DomainError
from trust.admin.base import ServiceRefused


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
