"""Serialise a job's writes across workers: one run at a time per job name."""

import zlib

from django.db import connection


def job_lock(name: str) -> None:
    """Take a transaction-scoped lock named ``name`` (waits for a concurrent holder).

    On PostgreSQL an advisory lock released at commit; SQLite transactions are
    already serial (``transaction_mode="IMMEDIATE"``).
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(name.encode()) & 0x7FFFFFFF])
