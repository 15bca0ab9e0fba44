"""A worker SIGKILLed in the middle of a batch: no goodbye, no acks, no bookkeeping. Its leases
expire, the rows come back, and what Twilio already had is reconciled rather than sent again."""

import time

import pytest
from django.conf import settings

from messaging.models import OutboundMessage
from messaging.tasks import dispatch_task
from tests.reliability.conftest import all_sent, assert_each_sent_exactly_once, drain, due_messages

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
MESSAGES = 600


def in_hand(fake_twilio) -> tuple[int, dict[int, str]]:
    """How many rows workers hold (`sending`), and those of them Twilio already accepted, with its SID.

    A batch records its successes together at its end: some held rows accepted and some not
    means a batch is in the middle.
    """
    accepted = {(m["to"], m["body"]): m["sid"] for m in fake_twilio.messages}
    holding = list(OutboundMessage.objects.filter(status="sending").values_list("pk", "to", "body"))
    return len(holding), {pk: accepted[(to, body)] for pk, to, body in holding if (to, body) in accepted}


def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(worker_env, fake_twilio, celery_processes):
    due_messages(MESSAGES)
    # A slow Twilio (0.1 s a message, 2 s a batch) leaves a wide window in the middle of a batch.
    fake_twilio.set_latency(0.1)
    first = celery_processes.worker(worker_env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        dispatch_task()
        held, accepted = in_hand(fake_twilio)
        recorded = OutboundMessage.objects.filter(status="sent").count()
        # Some batches done and recorded, one a quarter or more of the way through.
        if recorded >= 2 * settings.DISPATCH_TASK_SIZE and settings.DISPATCH_TASK_SIZE // 4 <= len(accepted) < held:
            break
        time.sleep(0.1)
    first.kill()
    held, accepted = in_hand(fake_twilio)
    accepted_before_kill = len(fake_twilio.messages)
    # Killed mid-batch: of the rows it held, Twilio had some (the outbox does not know) and not others.
    assert 0 < len(accepted) < held
    assert accepted_before_kill < MESSAGES

    fake_twilio.set_latency(0)
    celery_processes.worker(worker_env)
    drain(all_sent(MESSAGES), timeout=180)
    assert_each_sent_exactly_once(fake_twilio, MESSAGES)
    # The ones in hand were found at Twilio after the lease expired, not sent a second time.
    reconciled = dict(OutboundMessage.objects.filter(pk__in=accepted).values_list("pk", "provider_id"))
    assert reconciled == accepted
    print(
        f"\nFAULTS kill: {MESSAGES} messages, SIGKILL after {accepted_before_kill} were accepted, "
        f"the killed worker held {held} rows, {len(accepted)} of them accepted by Twilio but not yet recorded "
        "(reconciled, not resent)"
    )
