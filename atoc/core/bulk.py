"""Fast writes of many rows at once: one statement for thousands of inserts or updates.

On PostgreSQL both helpers send each column as one array and let ``unnest`` turn
the arrays back into rows, with the arrays bound on the server in binary. Django's
own cursors bind on the client: they quote every array element into the SQL text,
which for a thousand rows costs more than running the statement, and its
``bulk_create`` also builds a model instance and prepares every value of every row.
Here values go in as the column stores them (a foreign key's id, an aware
datetime; JSON fields take the Python object). Statements still go through Django's
cursor wrappers, so query logging and ``CaptureQueriesContext`` see them. On other
databases the helpers fall back to ``executemany`` and ``bulk_create``.
"""

import json
from collections.abc import Iterable, Sequence
from contextlib import contextmanager

from django.db import IntegrityError, connections, models, router, transaction


def insert_rows(
    model: type[models.Model],
    *,
    fields: Sequence[str],
    rows: Iterable[tuple],
    returning: bool = False,
    ignore_conflicts: bool = False,
    all_or_none_on: Sequence[str] = (),
) -> list:
    """Insert many rows of ``model`` in one statement; each row holds the values of ``fields``.

    Fields left out get their default (a callable default is called once per row).
    Returns the new primary keys in row order when ``returning``, else an empty
    list. With ``ignore_conflicts`` a row that breaks a unique constraint is skipped
    (``ON CONFLICT DO NOTHING``). With ``all_or_none_on`` (the fields of a unique
    constraint, and ``returning``) a row taken on those fields is skipped too, and
    fewer keys than rows come back: the caller then refuses the whole batch. That
    costs no savepoint, where catching the ``IntegrityError`` would need one to
    keep the transaction usable. Writes no history and sends no signals: use it
    for rows that are not history-tracked, or with
    :func:`atoc.core.history.history_insert_bulk`.
    """
    if returning and ignore_conflicts:
        raise ValueError("Skipped rows have no key: returning and ignore_conflicts exclude.")
    if all_or_none_on and not returning:
        raise ValueError("all_or_none_on tells skipped rows by the keys returned.")
    rows = list(rows)
    if not rows:
        return []
    opts = model._meta
    named = [opts.get_field(name) for name in fields]
    missing = [
        f for f in opts.concrete_fields if f not in named and not f.primary_key
    ]  # fmt: skip
    columns = named + missing
    values = [list(column) for column in zip(*rows, strict=True)]
    for field in missing:
        if callable(field.default):
            values.append([field.get_default() for _ in rows])
        else:
            values.append([field.get_default()] * len(rows))

    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        objs = [
            model(**{f.attname: v for f, v in zip(columns, row, strict=True)})
            for row in zip(*values, strict=True)
        ]
        manager = model._base_manager.using(connection.alias)
        if all_or_none_on:
            try:
                with transaction.atomic(using=connection.alias):
                    manager.bulk_create(objs)
            except IntegrityError:
                return []
        else:
            manager.bulk_create(objs, ignore_conflicts=ignore_conflicts)
        return [obj.pk for obj in objs] if returning else []

    quote = connection.ops.quote_name
    selected, scalars, arrays, sources = [], [], [], []
    for i, (field, column) in enumerate(zip(columns, values, strict=True)):
        if _is_constant(column) and (arrays or i < len(columns) - 1):
            # One value for every row: sent once, not as an array of copies.
            selected.append(_placeholder(field, connection))
            scalars.append(_prepared(field, column[:1])[0])
        else:
            selected.append(f"v.c{i}")
            sources.append((f"c{i}", _placeholder(field, connection, array=True)))
            arrays.append(_prepared(field, column))
    sql = (
        f"INSERT INTO {quote(opts.db_table)} "  # noqa: S608 - names come from _meta
        f"({', '.join(quote(f.column) for f in columns)}) "
        f"SELECT {', '.join(selected)} "
        f"FROM unnest({', '.join(p for _, p in sources)}) AS v({', '.join(n for n, _ in sources)})"
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    elif all_or_none_on:
        targets = ", ".join(quote(opts.get_field(name).column) for name in all_or_none_on)
        sql += f" ON CONFLICT ({targets}) DO NOTHING"
    if returning:
        sql += f" RETURNING {quote(opts.pk.column)}"
    with _server_bound_cursor(connection) as cursor:
        cursor.execute(sql, [*scalars, *arrays])
        return [row[0] for row in cursor.fetchall()] if returning else []


def insert_objects(objs: Sequence[models.Model], *, all_or_none_on: Sequence[str] = ()) -> bool:
    """``bulk_create`` for unsaved instances of one model, through :func:`insert_rows`.

    Every concrete field is written as the instance holds it and the new primary
    keys are set on the instances, which then count as saved. Sends no signals and
    calls no ``save()``, like ``bulk_create``. With ``all_or_none_on`` (the fields
    of a unique constraint) it returns False, and marks nothing saved, when any
    instance's values on those fields are taken: the caller must then refuse the
    batch (roll back its transaction), since the other rows were inserted.
    Returns True otherwise.
    """
    if not objs:
        return True
    model = type(objs[0])
    opts = model._meta
    fields = [f for f in opts.concrete_fields if not f.primary_key]
    # Like bulk_create, let fields that fill themselves in (auto_now…) do so.
    self_filled = [
        f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    relations = [f for f in fields if f.is_relation]
    for obj in objs:
        for field in self_filled:
            setattr(obj, field.attname, field.pre_save(obj, add=True))
        for field in relations:
            # What bulk_create does for a related object assigned before it was saved.
            if getattr(obj, field.attname) is None and field.is_cached(obj):
                related = field.get_cached_value(obj)
                if related is not None:
                    setattr(obj, field.attname, related.pk)
    keys = insert_rows(
        model,
        fields=[f.attname for f in fields],
        rows=[tuple(getattr(obj, f.attname) for f in fields) for obj in objs],
        returning=True,
        all_or_none_on=all_or_none_on,
    )
    if len(keys) != len(objs):
        return False
    alias = router.db_for_write(model)
    for obj, key in zip(objs, keys, strict=True):
        obj.pk = key
        obj._state.adding = False
        obj._state.db = alias
    return True


def update_rows(model: type[models.Model], *, fields: Sequence[str], rows: Iterable[tuple]) -> int:
    """Set ``fields`` on many rows; each row holds their values then the primary key.

    On PostgreSQL this is one ``UPDATE … FROM unnest(…)`` statement; elsewhere one
    ``UPDATE`` per row through ``executemany``. Both stay fast for thousands of rows,
    where ``QuerySet.bulk_update`` compiles a ``CASE`` per field and row. Like any
    queryset update it writes no history: use it for fields that history excludes
    (read fields, counters), or follow it with
    :func:`atoc.core.history.history_insert_bulk` as ``bulk_update_with_history``
    does. Returns the number of rows sent.
    """
    rows = list(rows)
    if not rows:
        return 0
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    opts = model._meta
    columns = [opts.get_field(name) for name in fields]
    table = quote(opts.db_table)
    keys = [row[-1] for row in rows]
    if connection.vendor == "postgresql":
        assignments, scalars, arrays, sources = [], [], [], []
        for i, column in enumerate(columns):
            column_values = [row[i] for row in rows]
            if _is_constant(column_values):
                assignments.append(f"{quote(column.column)} = {_placeholder(column, connection)}")
                scalars.append(_prepared(column, column_values[:1])[0])
            else:
                assignments.append(f"{quote(column.column)} = v.c{i}")
                sources.append((f"c{i}", _placeholder(column, connection, array=True)))
                arrays.append(_prepared(column, column_values))
        sources.append(("pk", _placeholder(opts.pk, connection, array=True)))
        with _server_bound_cursor(connection) as cursor:
            cursor.execute(
                f"UPDATE {table} SET {', '.join(assignments)} "  # noqa: S608 - names from _meta
                f"FROM unnest({', '.join(p for _, p in sources)}) "
                f"AS v({', '.join(n for n, _ in sources)}) "
                f"WHERE {table}.{quote(opts.pk.column)} = v.pk",
                [*scalars, *arrays, keys],
            )
        return len(rows)
    values = [
        [column.get_db_prep_save(row[i], connection) for row in rows]
        for i, column in enumerate(columns)
    ]
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {assignments} WHERE {quote(opts.pk.column)} = %s",  # noqa: S608
            [[*row_values, key] for *row_values, key in zip(*values, keys, strict=True)],
        )
    return len(rows)


def _is_constant(column: list) -> bool:
    """Whether every value of the column is the same (same type, equal)."""
    first = column[0]
    kind = type(first)
    return all(v is first or (type(v) is kind and v == first) for v in column)


def _prepared(field: models.Field, column: list) -> list:
    """A column's values as the driver sends them (JSON fields are serialised here)."""
    if isinstance(field, models.JSONField):
        encoder, serialised = field.encoder, {}
        prepared = []
        for value in column:
            if value is None:
                prepared.append(None)
                continue
            # Rows often share one object (a routing snapshot): serialise it once.
            text = serialised.get(id(value))
            if text is None:
                text = serialised[id(value)] = json.dumps(value, cls=encoder)
            prepared.append(text)
        return prepared
    return column


def _placeholder(field: models.Field, connection, *, array: bool = False) -> str:
    # Without the type's parameters: varchar[] rather than varchar(50)[] (no truncation).
    db_type = field.db_type(connection).split("(")[0]
    return f"%b::{db_type}{'[]' if array else ''}"


@contextmanager
def _server_bound_cursor(connection):
    """A psycopg cursor that binds parameters on the server, wrapped like Django's own.

    Django's wrapper logs the statement, runs execute wrappers and turns driver
    errors into ``django.db`` errors, exactly as for ``connection.cursor()``.
    """
    import psycopg

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = psycopg.Cursor(connection.connection)
    cursor = connection._prepare_cursor(raw)
    try:
        yield cursor
    finally:
        cursor.close()
