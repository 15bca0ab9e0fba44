"""Two beat processes by mistake (a second deploy that forgot to stop the first): every plan and
dispatch tick runs twice. The beat locks hold; and without them, SKIP LOCKED and the dedupe keys."""

import threading
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from caregiver.models import Appointment
from messaging import dispatch, planning, sending
from messaging.models import OutboundMessage
from tests.factories import ClinicFactory
from tests.reliability.conftest import due_messages, families, statuses, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
FAMILIES = 100
CONFIRMATIONS = 300
# Wherever the test runs, one of these is in the middle of its day.
ZONES = [
    "Pacific/Honolulu", "America/Los_Angeles", "America/New_York", "America/Sao_Paulo", "Europe/London",
    "Europe/Berlin", "Asia/Dubai", "Asia/Kolkata", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney",
    "Pacific/Auckland",
]  # fmt: skip


def daytime_zone() -> str:
    return next(zone for zone in ZONES if 10 <= timezone.now().astimezone(ZoneInfo(zone)).hour < 18)


def treated_today(count: int) -> list[Appointment]:
    """Families whose infusion began long enough ago that they are home: the expected-end reminder
    is due now, and only the planner can make it (nothing is in the outbox yet)."""
    clinic = ClinicFactory(time_zone=daytime_zone())
    started = timezone.now() - timedelta(minutes=60 + clinic.observation_minutes + clinic.home_after_minutes)
    return Appointment.objects.bulk_create(
        Appointment(loved_one=loved_one, starts_at=started, duration_minutes=60, kind="infusion")
        for _, loved_one in families(count, clinic=clinic, tip_frequency="paused")
    )


def due_now_sent(expected: int):
    def check() -> bool:
        reminders = OutboundMessage.objects.filter(kind="reminder", rule__key="expected-end", status="sent").count()
        confirmations = OutboundMessage.objects.filter(kind="confirmation", status="sent").count()
        return reminders == FAMILIES and confirmations == expected

    return check


def outbox_matches_twilio(fake_twilio) -> None:
    """Every planned row that went out did so once, with the SID of the one message Twilio has for it."""
    assert fake_twilio.duplicates() == []
    went_out = set(OutboundMessage.objects.filter(status="sent").values_list("provider_id", "to", "body"))
    assert went_out == {(m["sid"], m["to"], m["body"]) for m in fake_twilio.messages}
    assert len(went_out) == FAMILIES + CONFIRMATIONS


def test_two_beat_processes_plan_and_send_each_message_once(worker_env, fake_twilio, content, celery_processes):
    treated_today(FAMILIES)
    due_messages(CONFIRMATIONS)
    env = worker_env | {"DISPATCH_INTERVAL_SECONDS": "0.5", "PLAN_INTERVAL_SECONDS": "1"}
    beats = [celery_processes.beat(env), celery_processes.beat(env)]
    celery_processes.worker(env)
    wait_for(due_now_sent(CONFIRMATIONS), timeout=180)
    assert all(beat.running() for beat in beats)
    celery_processes.stop()
    outbox_matches_twilio(fake_twilio)
    # Both beats really ticked, each many times.
    runs = [beat.runs() for beat in beats]
    for ran in runs:
        assert ran["dispatch-due"] >= 5
        assert ran["plan-messages"] >= 2
    print(f"\nFAULTS beats: {FAMILIES + CONFIRMATIONS} messages sent once; ticks sent by each beat: {runs}")


def test_two_dispatchers_and_planners_without_the_lock_still_send_each_message_once(fake_twilio, content):
    """What the lock saves us from, done on purpose: two loops plan and dispatch the same rows at
    the same moments, each sending in-process, with nothing but the database between them."""
    treated_today(FAMILIES)
    due_messages(CONFIRMATIONS)
    start = threading.Barrier(2)
    failures: list[BaseException] = []
    claimed: Counter[str] = Counter()

    def beat() -> None:
        try:
            planning.plan_due(now=timezone.now())
            # Both have planned; now they dispatch the same rows at the same moments.
            start.wait(timeout=60)
            for _ in range(30):
                planning.plan_due(now=timezone.now())
                tick = dispatch.dispatch_due(
                    now=timezone.now(),
                    batch_size=40,
                    max_per_tick=80,
                    enqueue=lambda ids: sending.messages_send(message_ids=ids),
                )
                claimed[threading.current_thread().name] += tick["claimed"]
                if due_now_sent(CONFIRMATIONS)():
                    return
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread below
            failures.append(exc)
        finally:
            connection.close()

    loops = [threading.Thread(target=beat) for _ in range(2)]
    for loop in loops:
        loop.start()
    for loop in loops:
        loop.join(timeout=240)
    assert failures == []
    # They raced: both claimed rows, and between them claimed each due row once.
    assert len(claimed) == 2
    assert all(claimed.values())
    assert sum(claimed.values()) == FAMILIES + CONFIRMATIONS
    print(f"\nFAULTS no lock: rows claimed by each loop: {dict(claimed)}")
    assert due_now_sent(CONFIRMATIONS)(), statuses()
    outbox_matches_twilio(fake_twilio)
