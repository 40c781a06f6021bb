"""Say in one line whether PostgreSQL or Redis is unreachable (exit 2), else nothing."""

import os
import socket
import sys
from urllib.parse import urlsplit


def reachable(url: str, default_port: int) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=3):
            return host, port, True
    except OSError:
        return host, port, False


def main() -> int:
    failed = []
    for name, var, port in (("PostgreSQL", "DATABASE_URL", 5432), ("Redis", "REDIS_URL", 6379)):
        host, port, ok = reachable(os.environ[var], port)
        if not ok:
            failed.append(f"{name} is not reachable at {host}:{port} ({var})")
    if failed:
        print("Cannot run the tests: " + "; ".join(failed) + ".", file=sys.stderr)
        return 2
    _ensure_database(os.environ["DATABASE_URL"])
    return 0


def _ensure_database(url: str) -> None:
    """Create the named database if it is missing (the tests use test_<name>)."""
    import psycopg
    from psycopg import sql

    base, name = url.rsplit("/", 1)
    try:
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not found:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        print(f"Cannot prepare database {name!r}: {exc}".strip(), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
