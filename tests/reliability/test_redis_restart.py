"""Redis restarted in the middle of dispatching: it keeps nothing on disk, so every send task
waiting in the queue is gone. The outbox still knows what is owed."""

import time

import pytest

from config.celery import app
from messaging.tasks import dispatch_task
from tests.reliability.conftest import all_sent, assert_each_sent_exactly_once, drain, due_messages

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
MESSAGES = 2000


def queued_tasks() -> int:
    with app.connection_for_write() as connection:
        return connection.default_channel.client.llen(app.conf.task_default_queue)


def test_a_redis_restart_mid_dispatch_loses_nothing_and_doubles_nothing(
    redis_restart, worker_env, fake_twilio, celery_processes
):
    due_messages(MESSAGES)
    celery_processes.worker(worker_env)
    deadline = time.monotonic() + 60
    while len(fake_twilio.messages) < MESSAGES // 10 and time.monotonic() < deadline:
        dispatch_task()
        time.sleep(0.2)
    waiting = queued_tasks()
    redis_restart()
    sent_before = len(fake_twilio.messages)
    # The fault was real: tasks were waiting, and the restart threw them away.
    assert waiting > 0
    assert queued_tasks() == 0
    assert 0 < sent_before < MESSAGES
    drain(all_sent(MESSAGES), timeout=240)
    assert_each_sent_exactly_once(fake_twilio, MESSAGES)
    print(f"\nFAULTS redis: {MESSAGES} messages, restart after {sent_before} sent, {waiting} send tasks lost with it")
