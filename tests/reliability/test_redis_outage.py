"""Redis down for 15 s while a worker is in the middle of a batch, and nobody does anything.

The Redis here is the test's own (a private server on a free port, broker, locks and rate tokens
all in it, as in production), so this runs anywhere without disturbing anyone's Redis. The
worker must still be there when Redis comes back, and every message must go exactly once.
"""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from config.celery import app
from messaging.models import OutboundMessage
from messaging.tasks import dispatch_task
from tests.reliability.conftest import (
    _forget_redis_connections,
    all_sent,
    assert_each_sent_exactly_once,
    drain,
    due_messages,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
MESSAGES = 400
OUTAGE_SECONDS = 15


class PrivateRedis:
    def __init__(self, folder):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        subprocess.run(
            ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")],
            check=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.cli("ping") == "PONG":
                return
            time.sleep(0.1)
        raise AssertionError("the private Redis did not start")

    def cli(self, *args: str) -> str:
        done = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True)
        return done.stdout.strip()

    def stop(self) -> None:
        self.cli("shutdown", "nosave")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.cli("ping") == "PONG":
            time.sleep(0.1)


@pytest.fixture
def private_redis(tmp_path, settings):
    redis = PrivateRedis(tmp_path)
    redis.start()
    before = app.conf.broker_url
    settings.REDIS_URL = settings.CELERY_BROKER_URL = app.conf.broker_url = redis.url
    _forget_redis_connections()
    yield redis
    redis.stop()
    app.conf.broker_url = before
    _forget_redis_connections()


def tick() -> None:
    """A dispatcher tick as beat runs it; with Redis down it fails, as beat's would, and the next one tries again."""
    try:
        dispatch_task()
    except Exception:  # noqa: BLE001 - the broker or the lock is down: exactly what is being tested
        _forget_redis_connections()


def test_a_worker_outlives_redis_down_for_15_s_mid_batch_and_sends_each_message_once(
    private_redis, worker_env, fake_twilio, celery_processes
):
    due_messages(MESSAGES)
    fake_twilio.set_latency(0.2)
    env = {**worker_env, "REDIS_URL": private_redis.url, "CELERY_BROKER_URL": private_redis.url}
    workers = [celery_processes.worker(env, as_deployed=True) for _ in range(2)]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        tick()
        if len(fake_twilio.messages) >= 40 and OutboundMessage.objects.filter(status="sending").exists():
            break
        time.sleep(0.1)
    assert OutboundMessage.objects.filter(status="sending").exists(), "no batch was in the middle"

    private_redis.stop()
    down_until = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < down_until:
        tick()
        time.sleep(1)
    private_redis.start()
    _forget_redis_connections()

    drain(all_sent(MESSAGES), timeout=240)
    assert [w.process.poll() for w in workers] == [None, None], "a worker exited during the outage"
    assert_each_sent_exactly_once(fake_twilio, MESSAGES)
