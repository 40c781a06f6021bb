"""Set up Django for a benchmark against its own PostgreSQL database.

Benchmarks use ``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/
atoc_bench``), never the development or test database. The database is created
and migrated on first use.
"""

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def setup(*, migrate: bool = True) -> None:
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/atoc_bench")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    _ensure_database(url)
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def _ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@contextmanager
def timed(label: str, results: dict):
    """Time a block and store the seconds under ``label``."""
    start = time.perf_counter()
    yield
    results[label] = time.perf_counter() - start


def progress(message: str) -> None:
    print(f"  {message}", flush=True)
