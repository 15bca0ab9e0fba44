"""A real Celery worker in its own process, against the test database and Redis."""

from __future__ import annotations

import os
import shelve
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from config.celery import app

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a Celery process that shares this test's database, Redis and queue."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def sms_worker_env(fake_twilio, settings, *, lease_seconds: int) -> dict[str, str]:
    """Environment for a Worker that texts through the fake Twilio with short leases.

    The test process runs the dispatcher, so it gets the same lease as the workers; the queue
    starts empty so no earlier test's tasks reach this one's worker.
    """
    settings.DISPATCH_LEASE_SECONDS = lease_seconds
    app.control.purge()
    return {
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": fake_twilio.account_sid,
        "TWILIO_AUTH_TOKEN": fake_twilio.auth_token,
        "TWILIO_API_BASE_URL": fake_twilio.base_url,
        "TWILIO_TIMEOUT": "2",
        "EMAIL_TIMEOUT": "1",
        "DISPATCH_LEASE_SECONDS": str(lease_seconds),
        # As messaging.checks requires: batch deadline < soft limit < hard limit < lease.
        "CELERY_TASK_SOFT_TIME_LIMIT": str(lease_seconds - 2),
        "CELERY_TASK_TIME_LIMIT": str(lease_seconds - 1),
    }


class Worker:
    def __init__(self, *, env: dict[str, str], concurrency: int = 2, as_deployed: bool = False):
        self.env = env
        self.concurrency = concurrency
        # As deployed (Procfile, compose): gossip and mingle on, which a test's worker can do without.
        self.quiet = [] if as_deployed else ["--without-gossip", "--without-mingle"]
        self.process: subprocess.Popen | None = None
        self.name = f"test-{os.getpid()}-{time.monotonic_ns()}@{socket.gethostname()}"

    def start(self) -> Worker:
        env = process_env(self.env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING",
             f"--concurrency={self.concurrency}", *self.quiet, "-n", self.name],
            cwd=ROOT, env=env, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the Celery worker exited with {self.process.returncode}")
                if app.control.ping(destination=[self.name], timeout=0.5):
                    return self
            raise RuntimeError("the Celery worker did not answer a ping within 30 s")
        except BaseException:
            # A worker we could not reach must not outlive the test and take another test's tasks.
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL the whole worker (parent and pool children): no goodbye, no acks."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class Beat:
    """A real `celery beat` process publishing plan_task and dispatch_task on the settings' schedule
    (PLAN_INTERVAL_SECONDS, DISPATCH_INTERVAL_SECONDS in `env`), with its own schedule and pid files."""

    def __init__(self, *, env: dict[str, str], folder: Path):
        self.env = env
        self.folder = folder
        self.process: subprocess.Popen | None = None

    def start(self) -> Beat:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=WARNING",
             "--schedule", str(self.folder / "schedule"), "--pidfile", str(self.folder / "beat.pid")],
            cwd=ROOT, env=process_env(self.env), start_new_session=True,
        )  # fmt: skip
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def runs(self) -> dict[str, int]:
        """How many times each entry was sent, from the schedule file beat writes when it stops."""
        with shelve.open(str(self.folder / "schedule"), flag="r") as schedule:  # noqa: S301 - our beat's own file
            return {name: entry.total_run_count for name, entry in schedule["entries"].items()}

    def stop(self) -> None:
        if self.running():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
