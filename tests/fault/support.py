"""Private infrastructure for the fault tests, and the processes that run on it.

The fault tests break Redis and PostgreSQL on purpose, so they never touch the
shared services: each starts its own ``redis-server`` (no persistence) on a free
port, and the PostgreSQL restart test its own throw-away cluster (``initdb`` into
a temporary directory). Celery workers, the scheduler and gunicorn run as real
processes with the test settings, pointed at those services.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from glob import glob
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from escalations.choices import SignalKind
from tests.escalations.support import ingest
from tests.factories import AgentFactory

ROOT = Path(settings.BASE_DIR)
WAIT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def current_database_url() -> str:
    """A DATABASE_URL for the database this test runs on (``test_<name>``)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_until(check, *, what: str, processes=(), timeout: float = WAIT_SECONDS):
    """Poll until ``check()`` is truthy (bounded); show the processes' logs on failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        for process in processes:
            if process.exited():
                pytest.fail(f"{process.name} exited while waiting for {what}:\n{process.output()}")
        time.sleep(0.2)
    logs = "\n".join(f"--- {p.name}\n{p.output()[-4000:]}" for p in processes)
    pytest.fail(f"No {what} after {timeout:.0f} s.\n{logs}")


class Process:
    """A child process in its own process group, its output in a temporary file."""

    def __init__(self, name: str, command: list[str], *, env: dict | None = None, user=None):
        self.name = name
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix=f"atoc-fault-{name}-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self) -> bool:
        return self.process.poll() is not None

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown handler runs."""
        if not self.exited():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        if not self.exited():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if not self.log.closed:
            self.log.close()
            Path(self.log.name).unlink(missing_ok=True)


class PrivateRedis:
    """A ``redis-server`` of the test's own, without persistence, stopped and restarted at will."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.server: Process | None = None

    def start(self) -> None:
        self.server = Process(
            f"redis-{self.port}",
            [
                shutil.which("redis-server") or "redis-server",
                "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no",
            ],
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        wait_until(lambda: _pings(client), what="private redis", processes=[self.server])
        client.close()

    def stop(self) -> None:
        if self.server is not None:
            self.server.kill()  # abrupt, like a crash: nothing is saved anyway
            self.server.stop()
            self.server = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb into a temporary directory, free port).

    Run as the ``postgres`` system user when the tests run as root (PostgreSQL
    refuses to run as root); trust authentication on 127.0.0.1 only.
    """

    def __init__(self):
        binaries = sorted(glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not binaries:
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.bin = Path(binaries[-1]).parent
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres").pw_name
            except KeyError:
                pytest.skip("running as root without a postgres system user")
        self.dir = Path(tempfile.mkdtemp(prefix="atoc-fault-pg-"))
        if self.user:
            shutil.chown(self.dir, self.user)
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/atoc"
        self._run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
             "--auth=trust", "--no-sync", "-E", "UTF8"]
        )  # fmt: skip

    def _run(self, command: list[str]) -> None:
        subprocess.run(
            command, check=True, user=self.user, cwd=self.dir, capture_output=True, timeout=120
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
             "-o", options, "-w", "-t", "60", "start"]
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def create_database(self) -> None:
        import psycopg

        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE atoc")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop(mode="immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


def django_env(*, database_url: str, redis_url: str, **extra: str) -> dict:
    """The environment of a Django process (test settings) on these services."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_TASK_DEFAULT_QUEUE": "celery",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def production_env(*, database_url: str, redis_url: str, **extra: str) -> dict:
    """The environment of a production web node on these services (secrets made up)."""
    signing_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return {
        **django_env(database_url=database_url, redis_url=redis_url),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
        "ATOC_TRUST_SIGNING_KEY": signing_key,
        "ATOC_API_THROTTLE_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def start_worker(env: dict, name: str, *, pool: str = "solo", concurrency: int = 1) -> Process:
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        f"--pool={pool}", f"--concurrency={concurrency}", "--hostname", f"{name}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO",
    ]  # fmt: skip
    return Process(name, command, env=env)


def start_beat(env: dict, workdir: Path) -> Process:
    command = [
        sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
        "--pidfile", str(workdir / "beat.pid"), "--max-interval", "1",
    ]  # fmt: skip
    return Process("beat", command, env=env)


def start_gunicorn(env: dict, port: int, *, workers: int = 2) -> Process:
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--timeout", "60", "--graceful-timeout", "5",
    ]  # fmt: skip
    server = Process("gunicorn", command, env=env)

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_until(answers, what="gunicorn listening", processes=[server])
    return server


def child_pids(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def send_task(broker_url: str, name: str, *, times: int = 1) -> None:
    """Send a task by name to the private broker, as the scheduler does."""
    from celery import Celery

    app = Celery("atoc-fault", broker=broker_url, set_as_current=False)
    app.conf.task_default_queue = "celery"
    with app.connection_for_write() as conn:
        for _ in range(times):
            app.send_task(name, connection=conn, queue="celery")
    app.close()


def overdue_incidents(count: int, actor) -> list[int]:
    """``count`` incidents (on agents of their own) opened five hours ago: all overdue."""
    five_hours_ago = timezone.now() - timedelta(hours=5)
    return [
        ingest(
            AgentFactory(), actor, kind=SignalKind.CUSTOM, observed_at=five_hours_ago,
            now=five_hours_ago,
        ).incident.pk
        for _ in range(count)
    ]  # fmt: skip
