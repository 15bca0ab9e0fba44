"""PostgreSQL restarted while messages go out: every connection is cut, transactions in flight
roll back, batches half-sent lose their bookkeeping. Workers and beat carry on by themselves."""

import pytest
from django.db import connection

from messaging.models import OutboundMessage
from tests.reliability.conftest import all_sent, assert_each_sent_exactly_once, due_messages, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
MESSAGES = 1000


def server_started_at():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_postmaster_start_time()")
        return cursor.fetchone()[0]


def test_a_postgres_restart_mid_dispatch_needs_no_hand_and_loses_nothing(
    postgres_restart, worker_env, fake_twilio, celery_processes
):
    due_messages(MESSAGES)
    before = server_started_at()
    # Beat dispatches every half second; the test only watches.
    env = worker_env | {"DISPATCH_INTERVAL_SECONDS": "0.5"}
    worker = celery_processes.worker(env)
    beat = celery_processes.beat(env)
    wait_for(lambda: len(fake_twilio.messages) >= MESSAGES // 10, timeout=90, what="the first sends")
    postgres_restart()
    sent_before = len(fake_twilio.messages)
    connection.close()  # this process's connection was cut too
    assert server_started_at() > before
    assert sent_before < MESSAGES
    wait_for(all_sent(MESSAGES), timeout=240)
    # Nobody restarted them: the same worker and beat processes finished the job.
    assert worker.process.poll() is None
    assert beat.running()
    assert_each_sent_exactly_once(fake_twilio, MESSAGES)
    retried = OutboundMessage.objects.filter(attempts__gt=1).count()
    print(
        f"\nFAULTS postgres: {MESSAGES} messages, restart after {sent_before} sent, {retried} needed a second attempt"
    )
