"""What the fault tests share: a real worker's environment, many due messages, the pipeline
drained as beat would drain it, and the one check that matters (each message sent exactly once)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import kombu.pools
import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.utils import timezone

from caregiver.models import Caregiver, CareLink, ConsentRecord, LovedOne
from config.celery import app
from messaging.models import OutboundMessage
from messaging.tasks import dispatch_task
from tests.factories import ClinicFactory
from tests.messaging.worker import Beat, Worker, sms_worker_env
from tests.service_markers import in_ci

# Long enough for the batch deadline it allows (lease - 2 s soft limit, less 4 s for one send and
# 2 s to record: 4 s) to fit a batch of 20 on a busy 2-core machine, short enough that a test
# waiting for leases to expire does not wait long.
LEASE_SECONDS = 12


@pytest.fixture
def worker_env(fake_twilio, settings):
    return sms_worker_env(fake_twilio, settings, lease_seconds=LEASE_SECONDS)


class CeleryProcesses:
    """The workers and beats a test starts: every one is stopped when the test ends, pass or fail,
    so none lives on to take the next test's tasks."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.started: list[Worker | Beat] = []

    def worker(self, env: dict[str, str], *, concurrency: int = 2, as_deployed: bool = False) -> Worker:
        worker = Worker(env=env, concurrency=concurrency, as_deployed=as_deployed)
        self.started.append(worker)
        return worker.start()

    def beat(self, env: dict[str, str]) -> Beat:
        beat = Beat(env=env, folder=self.folder / f"beat-{len(self.started)}")
        self.started.append(beat)
        return beat.start()

    def stop(self) -> None:
        for process in reversed(self.started):
            process.stop()


@pytest.fixture
def celery_processes(tmp_path):
    processes = CeleryProcesses(tmp_path)
    yield processes
    processes.stop()


def caregivers(count: int, *, clinic=None, **fields) -> list[Caregiver]:
    """`count` active caregivers who opted in to SMS, each with a number of their own."""
    clinic = clinic or ClinicFactory()
    fields = {"time_zone": clinic.time_zone, **fields}
    start = Caregiver.objects.count()
    made = Caregiver.objects.bulk_create(
        Caregiver(
            clinic=clinic, name=f"Caregiver {start + n}", phone=f"+1415555{start + n:04d}",
            email=f"caregiver{start + n}@example.com", status=Caregiver.Status.ACTIVE,
            **fields,
        )
        for n in range(count)
    )  # fmt: skip
    ConsentRecord.objects.bulk_create(
        ConsentRecord(
            caregiver=caregiver, channel="sms", address=caregiver.phone, action="opt_in", source="web",
            consent_text_version="v1",
        )
        for caregiver in made
    )  # fmt: skip
    return made


def families(count: int, *, clinic, **caregiver_fields) -> list[tuple[Caregiver, LovedOne]]:
    """`count` families of the clinic: a loved one each, supported by one consenting caregiver."""
    people = caregivers(count, clinic=clinic, **caregiver_fields)
    loved_ones = LovedOne.objects.bulk_create(LovedOne(clinic=clinic, first_name="Alex") for _ in people)
    CareLink.objects.bulk_create(
        CareLink(caregiver=caregiver, loved_one=loved_one)
        for caregiver, loved_one in zip(people, loved_ones, strict=True)
    )
    return list(zip(people, loved_ones, strict=True))


def due_messages(count: int, *, spread: int = 100) -> list[int]:
    """`count` SMS due now, spread over `spread` caregivers.

    Confirmations: no quiet hour or daily cap holds them back, so the test runs at any hour.
    Every body is different, so the fake Twilio can tell a duplicate from a second message.
    """
    people = caregivers(min(count, spread))
    now = timezone.now()
    rows = OutboundMessage.objects.bulk_create(
        OutboundMessage(
            caregiver=people[n % len(people)], channel="sms", kind="confirmation",
            body=f"Alongside: fault-test message #{n}", dedupe_key=f"fault:{n}", send_at=now, status="scheduled",
        )
        for n in range(count)
    )  # fmt: skip
    return [row.pk for row in rows]


def statuses() -> dict[str, int]:
    return dict(Counter(OutboundMessage.objects.values_list("status", flat=True)))


def drain(until, *, timeout: float = 120, tick: float = 1.0) -> None:
    """Run dispatcher ticks, as beat would, until `until()` holds.

    Each tick starts the way a Celery task does, closing a connection that broke (a restarted
    PostgreSQL) so the next query opens a fresh one.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        close_old_connections()
        dispatch_task()
        if until():
            return
        time.sleep(tick)
    raise AssertionError(f"the pipeline did not finish in {timeout:.0f} s: {statuses()}")


def wait_for(until, *, timeout: float = 120, what: str = "the pipeline") -> None:
    """Wait until `until()` holds; a query that meets a restarting PostgreSQL is asked again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if until():
                return
        except (OperationalError, InterfaceError):
            connection.close()
        time.sleep(0.5)
    raise AssertionError(f"{what} did not finish in {timeout:.0f} s: {statuses()}")


def all_sent(count: int):
    return lambda: statuses() == {"sent": count}


def assert_each_sent_exactly_once(fake_twilio, count: int) -> None:
    """Every row is `sent` with the SID of a message Twilio holds with its body; Twilio holds nothing else."""
    rows = set(OutboundMessage.objects.values_list("provider_id", "to", "body"))
    accepted = {(m["sid"], m["to"], m["body"]) for m in fake_twilio.messages}
    assert statuses() == {"sent": count}
    assert fake_twilio.duplicates() == []
    assert len(fake_twilio.messages) == count
    assert rows == accepted


# --- Restarting the services (CI only: they are shared on a developer's machine) ---------------


def _may_restart(flag: str, what: str) -> None:
    if not (in_ci() or os.environ.get(flag) == "1"):
        pytest.skip(f"restarts {what}; runs in CI, or locally with {flag}=1")


def _wait_until(check, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not come back within {timeout:.0f} s")


@pytest.fixture
def redis_restart():
    """Stops Redis without saving (it keeps nothing on disk) and starts it again: every queued task is gone."""
    # Restarting Redis flushes it: fine in CI, unkind to a developer's own `make run`.
    _may_restart("ALLOW_REDIS_RESTART", "Redis")

    def restart() -> None:
        url = urlparse(settings.REDIS_URL)
        host, port = url.hostname or "127.0.0.1", str(url.port or 6379)
        subprocess.run(["redis-cli", "-h", host, "-p", port, "shutdown", "nosave"], check=False, capture_output=True)
        log = os.path.join(tempfile.gettempdir(), f"redis-{port}.log")
        subprocess.run(
            ["redis-server", "--daemonize", "yes", "--bind", host, "--port", port, "--save", "", "--appendonly",
             "no", "--dir", tempfile.gettempdir(), "--logfile", log],
            check=True,
        )  # fmt: skip

        def pong() -> bool:
            ping = subprocess.run(["redis-cli", "-h", host, "-p", port, "ping"], capture_output=True, text=True)
            return ping.stdout.strip() == "PONG"

        _wait_until(pong, timeout=20, what="Redis")
        _forget_redis_connections()

    return restart


def _forget_redis_connections() -> None:
    """Drop this process's pooled broker connections to the Redis that went away. They are the
    test's own (the workers under test reconnect by themselves), and kombu would use a dead one
    for the next ping or purge and fail."""
    kombu.pools.reset()  # closes every pooled broker connection and forgets the pools
    app._after_fork()  # and Celery's references to them, as in a freshly forked child


def _postgres_cluster(port: int) -> tuple[str, str]:
    """The Debian cluster (version, name) listening on `port`."""
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True).stdout
    for line in listed.splitlines():
        version, name, cluster_port, *_ = line.split()
        if int(cluster_port) == port:
            return version, name
    raise AssertionError(f"no PostgreSQL cluster listens on port {port}:\n{listed}")


@pytest.fixture
def postgres_restart():
    """Restarts the PostgreSQL cluster behind DATABASE_URL (every connection is cut) and waits until it answers."""
    _may_restart("ALLOW_PG_RESTART", "PostgreSQL")
    database = connection.settings_dict
    host, port = database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432)
    version, name = _postgres_cluster(port)

    def ready() -> bool:
        return subprocess.run(["pg_isready", "-h", host, "-p", str(port)], capture_output=True).returncode == 0

    def restart() -> None:
        # Fast mode: open transactions are rolled back and every client is disconnected, as in a crash
        # or a failover, rather than waiting for idle sessions to leave.
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", "--mode", "fast", version, name, "restart"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        _wait_until(ready, timeout=60, what="PostgreSQL")

    yield restart
    # Whatever happened in the test, leave PostgreSQL running for the rest of the suite.
    if not ready():
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "start"], check=False)
        _wait_until(ready, timeout=60, what="PostgreSQL")
