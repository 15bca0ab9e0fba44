"""A Twilio that fails a third of the time: 500s, 429s and timeouts after which the message did
go out. Everything is sent in the end, once; retries back off; a timeout is reconciled, not resent."""

import itertools
from collections import Counter, defaultdict
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from messaging import dispatch, sending
from messaging.models import OutboundMessage
from tests.factories import ClinicFactory
from tests.reliability.conftest import all_sent, assert_each_sent_exactly_once, caregivers, drain, due_messages

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
MESSAGES = 200
RETRY_BASE_SECONDS = 0.15
TIMEOUT_DELAY = 2.0


def sends_by_message(fake_twilio) -> dict[tuple[str, str], list[dict]]:
    """Every POST Twilio received, per (to, body), in order of arrival."""
    sends = defaultdict(list)
    for request in fake_twilio.requests:
        if request["method"] == "POST":
            sends[(request["form"]["To"], request["form"]["Body"])].append(request)
    return sends


def test_a_failing_twilio_gets_everything_sent_once_with_backoff(worker_env, fake_twilio, celery_processes):
    fake_twilio.set_random_failures(error_500=0.20, error_429=0.10, timeout=0.05, timeout_delay=TIMEOUT_DELAY, seed=7)
    # Backoff scaled down 200 times so the test takes seconds. Twelve attempts instead of six:
    # at a 35% failure rate one message in 550 would fail six times running and be given up.
    env = worker_env | {
        "TWILIO_TIMEOUT": "1",
        "SEND_RETRY_BASE_SECONDS": str(RETRY_BASE_SECONDS),
        "SEND_MAX_ATTEMPTS": "12",
    }
    due_messages(MESSAGES)
    celery_processes.worker(env)
    drain(all_sent(MESSAGES), timeout=240, tick=0.25)

    assert_each_sent_exactly_once(fake_twilio, MESSAGES)
    sends = sends_by_message(fake_twilio)
    answers = Counter(r["status"] for tries in sends.values() for r in tries)
    timed_out = [key for key, tries in sends.items() if any(r["delay"] >= TIMEOUT_DELAY for r in tries)]
    # The faults were really injected, at about the rates asked for.
    assert answers[500] > 0
    assert answers[429] > 0
    assert timed_out
    # A send that timed out had reached Twilio: it was the last one for its message. The next
    # attempt listed Twilio's messages and found it.
    for key in timed_out:
        assert sends[key][-1]["delay"] >= TIMEOUT_DELAY
    reconciles = [r for r in fake_twilio.requests if r["method"] == "GET" and "To" in r["form"]]
    assert len(reconciles) >= len(timed_out)
    # Retries back off: the wait after the n-th failed send is at least the jittered minimum,
    # half of base * 2^(n-1), so it doubles from one failure to the next.
    retried = 0
    for tries in sends.values():
        for n, (failed, retry) in enumerate(itertools.pairwise(tries), start=1):
            assert retry["at"] - failed["at"] >= RETRY_BASE_SECONDS * 2 ** (n - 1) / 2
            retried += 1
    assert retried == answers[500] + answers[429]
    attempts = Counter(OutboundMessage.objects.values_list("attempts", flat=True))
    assert max(attempts) >= 3
    print(
        f"\nFAULTS provider: {MESSAGES} messages, {sum(answers.values())} sends: {answers[500]} x 500, "
        f"{answers[429]} x 429, {len(timed_out)} timeouts (reconciled with {len(reconciles)} lookups); "
        f"attempts per message {dict(sorted(attempts.items()))}"
    )


NEW_YORK = ZoneInfo("America/New_York")


def at(local: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=NEW_YORK).astimezone(UTC)


def tick(moment: datetime) -> dict[str, int]:
    """One dispatcher tick at `moment`, sending in-process."""
    outcomes: dict[int, str] = {}
    with time_machine.travel(moment, tick=False):
        dispatch.dispatch_due(
            now=timezone.now(),
            batch_size=100,
            max_per_tick=100,
            enqueue=lambda ids: outcomes.update(sending.messages_send(message_ids=ids)),
        )
    return outcomes


def test_a_timed_out_tip_held_back_by_quiet_hours_is_found_at_twilio_hours_later(fake_twilio, settings):
    settings.TWILIO_TIMEOUT = 0.5
    clinic = ClinicFactory(time_zone="America/New_York")
    (napper,) = caregivers(1, clinic=clinic, quiet_start=time(13, 0), quiet_end=time(15, 0))
    due = at("2026-12-08 12:59:50")  # the retry, 15-30 s later, falls in the nap
    tip = OutboundMessage.objects.create(
        caregiver=napper, channel="sms", kind="tip", body="Alongside: a walk together counts.",
        dedupe_key="tip:nap", send_at=due, not_after=due + timedelta(hours=6),
    )  # fmt: skip
    fake_twilio.timeout_next(accept=True, delay=1.5)

    assert tick(due) == {tip.pk: "retry:timeout"}
    tip.refresh_from_db()
    # The retry falls in the nap: the tip waits for 15:00.
    assert tick(tip.send_at) == {tip.pk: "deferred:quiet_hours"}
    tip.refresh_from_db()
    assert tip.send_at == at("2026-12-08 15:00")
    assert tick(tip.send_at) == {tip.pk: "sent"}

    (accepted,) = fake_twilio.messages
    tip.refresh_from_db()
    assert tip.provider_id == accepted["sid"]
