"""Rides home (RIDE, NO RIDE, the email link, telling the others, the clinic's day-ahead alert)
and notices when an appointment is moved or cancelled."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from caregiver import services
from caregiver.models import Appointment, Caregiver
from caregiver.tokens import ride_token
from caregiver.validators import local_to_utc
from messaging import planning, rides
from messaging.models import OutboundMessage
from tests import factories
from tests.messaging.conftest import local
from tests.messaging.texting import text

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("twilio_token")]
NOW = "2026-12-07 15:00Z"  # Monday 10:00 in New York


@pytest.fixture
def two_caregivers(family):
    sam, loved_one = family("America/New_York", channels="sms", name="Sam Rivera")
    jordan = factories.CaregiverFactory(clinic=loved_one.clinic, name="Jordan Rivera", channels="both",
                                        time_zone="America/New_York", tip_frequency="paused")  # fmt: skip
    factories.CareLinkFactory(caregiver=jordan, loved_one=loved_one)
    factories.ConsentRecordFactory(caregiver=jordan, channel="sms")
    factories.ConsentRecordFactory(caregiver=jordan, channel="email")
    return sam, jordan, loved_one


def _appointment(loved_one, when="2026-12-10 10:00", kind="infusion"):
    return services.appointment_create(
        loved_one=loved_one, starts_at=local_to_utc(datetime.fromisoformat(when), time_zone="America/New_York"),
        kind=kind,
    )  # fmt: skip


def plan(now=NOW):
    with time_machine.travel(now, tick=False):
        planning.plan_due(now=timezone.now())


def notices(caregiver, **filters):
    return list(OutboundMessage.objects.filter(caregiver=caregiver, kind="notice", **filters).order_by("id"))


def test_when_one_says_ride_the_others_are_told_who_is_driving(client, two_caregivers):
    sam, jordan, loved_one = two_caregivers
    appointment = _appointment(loved_one)
    with time_machine.travel(NOW, tick=False):
        body = text(client, sam, "RIDE").content.decode()
    assert "NO RIDE" in body
    plan()
    assert notices(sam) == []
    told = {m.channel: m for m in notices(jordan)}
    assert set(told) == {"sms", "email"}
    assert "Sam has the ride home for Alex" in told["sms"].body
    assert told["sms"].status == "scheduled"
    assert told["sms"].appointment == appointment
    # The ride reminders stop for both.
    assert not OutboundMessage.objects.filter(rule__key="ride-two-days-before", status="scheduled").exists()


def test_no_ride_takes_it_back_and_the_reminders_return(client, two_caregivers):
    sam, jordan, loved_one = two_caregivers
    appointment = _appointment(loved_one)
    with time_machine.travel(NOW, tick=False):
        text(client, sam, "RIDE")
    # Jordan's notice is planned for now; Sam takes it back before it goes.
    with time_machine.travel("2026-12-07 15:00:10Z", tick=False):
        body = text(client, sam, "no ride").content.decode()
    assert "not arranged yet" in body
    appointment.refresh_from_db()
    assert not appointment.ride_arranged
    plan("2026-12-07 15:01Z")
    assert all(m.status == "cancelled" for m in notices(jordan))
    ride = OutboundMessage.objects.get(caregiver=sam, rule__key="ride-two-days-before")
    assert ride.status == "scheduled"  # cancelled while the ride was arranged, back now


def test_no_ride_with_nothing_marked_says_so(client, two_caregivers):
    sam, _, loved_one = two_caregivers
    _appointment(loved_one)
    with time_machine.travel(NOW, tick=False):
        body = text(client, sam, "NO RIDE").content.decode()
    assert "nothing to change" in body


def test_an_email_only_caregiver_confirms_the_ride_with_the_link(client, family):
    caregiver, loved_one = family("America/New_York", channels="email")
    appointment = _appointment(loved_one)
    plan("2026-12-08 12:00Z")
    email = OutboundMessage.objects.get(caregiver=caregiver, rule__key="ride-two-days-before")
    assert "reply RIDE" not in email.body
    assert "/ride/" in email.body
    link = next(word for word in email.body.split() if "/ride/" in word).strip("<>")
    path = link.split("localhost:8000", 1)[-1] if "localhost:8000" in link else "/" + link.split("/", 3)[-1]
    with time_machine.travel("2026-12-08 13:00Z", tick=False):
        page = client.get(path)
        assert page.status_code == 200
        assert "Yes, the ride home is arranged" in page.content.decode()
        appointment.refresh_from_db()
        assert not appointment.ride_arranged  # opening the link (a mail scanner) changes nothing
        client.post(path, {"action": "arranged"})
        appointment.refresh_from_db()
        assert appointment.ride_arranged
        assert appointment.ride_arranged_by_caregiver == caregiver
        client.post(path, {"action": "undo"})
        appointment.refresh_from_db()
        assert not appointment.ride_arranged


def test_a_ride_link_for_another_family_or_address_opens_nothing(client, family):
    caregiver, loved_one = family("America/New_York", channels="email")
    _, other = family("America/New_York", channels="email")
    appointment = _appointment(other)
    token = ride_token(caregiver.pk, appointment_id=appointment.pk, email=caregiver.email)
    assert client.get(reverse("portal:ride", args=[token])).status_code == 404
    mine = _appointment(loved_one)
    stale = ride_token(caregiver.pk, appointment_id=mine.pk, email="old@example.com")
    assert client.get(reverse("portal:ride", args=[stale])).status_code == 404
    assert client.get(reverse("portal:ride", args=["nonsense"])).status_code == 404


def test_the_clinic_is_alerted_once_when_no_ride_is_confirmed_a_day_ahead(two_caregivers, staff_user):
    _, _, loved_one = two_caregivers
    staff_user.email = "dana@clinic.example"
    staff_user.save()
    factories.StaffMembershipFactory(user=staff_user, clinic=loved_one.clinic)
    appointment = _appointment(loved_one)
    early = local_to_utc(datetime(2026, 12, 9, 9, 0), time_zone="America/New_York")
    assert rides.rides_unconfirmed_alert(now=early)["alerted"] == 0  # 25 hours ahead
    day_before = early + timedelta(hours=2)
    assert rides.rides_unconfirmed_alert(now=day_before)["alerted"] == 1
    assert rides.rides_unconfirmed_alert(now=day_before + timedelta(minutes=5))["alerted"] == 0
    alerts = OutboundMessage.objects.filter(kind="alert", appointment=appointment)
    assert {m.to for m in alerts} >= {"dana@clinic.example", loved_one.clinic.contact_email}
    assert "Alex" not in alerts[0].subject
    assert "Sam Rivera" in alerts[0].body
    # Moved to the next day: checked again for the new time.
    services.appointment_reschedule(appointment=appointment, starts_at=appointment.starts_at + timedelta(days=1))
    assert rides.rides_unconfirmed_alert(now=day_before + timedelta(days=1))["alerted"] == 1


def test_a_ride_already_confirmed_raises_no_alert(two_caregivers):
    sam, _, loved_one = two_caregivers
    appointment = _appointment(loved_one)
    services.appointment_mark_ride_arranged(appointment=appointment, caregiver=sam)
    assert rides.rides_unconfirmed_alert(now=appointment.starts_at - timedelta(hours=20))["alerted"] == 0


def test_staff_see_tomorrows_sessions_with_their_rides(client, staff_user, clinic, other_clinic):
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    stranger = factories.LovedOneFactory(clinic=other_clinic, first_name="Robin")
    mine = factories.AppointmentFactory(loved_one=loved_one, starts_at=timezone.now() + timedelta(days=1))
    theirs = factories.AppointmentFactory(loved_one=stranger, starts_at=timezone.now() + timedelta(days=1))
    client.force_login(staff_user)
    day = mine.starts_at.astimezone(local_zone(clinic)).date()
    page = client.get(reverse("portal:tomorrow"), {"day": f"{day:%Y-%m-%d}"}).content.decode()
    assert "Alex" in page
    assert "Robin" not in page
    assert "Not confirmed" in page
    client.post(reverse("portal:tomorrow") + f"?day={day:%Y-%m-%d}", {"appointment": mine.pk})
    mine.refresh_from_db()
    assert mine.ride_arranged
    assert mine.ride_arranged_by_user == staff_user
    assert client.post(reverse("portal:tomorrow"), {"appointment": theirs.pk}).status_code == 404


def local_zone(clinic):
    from zoneinfo import ZoneInfo

    return ZoneInfo(clinic.time_zone)


def test_a_moved_appointment_is_told_to_each_caregiver(two_caregivers):
    sam, jordan, loved_one = two_caregivers
    appointment = _appointment(loved_one, "2026-12-16 10:00")
    with time_machine.travel(NOW, tick=False):
        services.appointment_reschedule(
            appointment=appointment, starts_at=local_to_utc(datetime(2026, 12, 17, 14, 0), time_zone="America/New_York")
        )
    plan()
    for caregiver in (sam, jordan):
        sms = next(m for m in notices(caregiver) if m.channel == "sms")
        assert "Wednesday, Dec 16 at 10:00 AM has moved to Thursday, Dec 17 at 2:00 PM" in sms.body
    assert len(notices(jordan)) == 2  # a text and an email


def test_a_cancelled_appointment_is_told_and_quiet_hours_are_kept(two_caregivers):
    sam, _, loved_one = two_caregivers
    appointment = _appointment(loved_one, "2026-12-16 10:00")
    late_night = "2026-12-08 03:30Z"  # 22:30 in New York
    with time_machine.travel(late_night, tick=False):
        services.appointment_cancel(appointment=appointment)
    plan(late_night)
    (notice,) = notices(sam)
    assert "is cancelled" in notice.body
    assert local(notice.send_at, "America/New_York") == datetime(2026, 12, 8, 8, 0)


def test_a_second_change_replaces_an_unsent_notice(two_caregivers):
    sam, _, loved_one = two_caregivers
    appointment = _appointment(loved_one, "2026-12-16 10:00")
    late_night = "2026-12-08 03:30Z"
    with time_machine.travel(late_night, tick=False):
        services.appointment_reschedule(appointment=appointment, starts_at=appointment.starts_at + timedelta(hours=2))
    plan(late_night)
    with time_machine.travel("2026-12-08 04:00Z", tick=False):
        services.appointment_reschedule(appointment=appointment, starts_at=appointment.starts_at + timedelta(hours=2))
    plan("2026-12-08 04:00Z")
    rows = notices(sam)
    assert [m.status for m in rows] == ["cancelled", "scheduled"]
    assert rows[0].status_reason == "superseded"
    assert "2:00 PM" in rows[1].body
    assert "12:00 PM has moved" in rows[1].body


def test_no_notice_to_someone_who_opted_out(two_caregivers):
    sam, _, loved_one = two_caregivers
    appointment = _appointment(loved_one, "2026-12-16 10:00")
    Caregiver.objects.filter(pk=sam.pk).update(status=Caregiver.Status.OPTED_OUT)
    with time_machine.travel(NOW, tick=False):
        services.appointment_cancel(appointment=appointment)
    plan()
    assert notices(sam) == []
    assert Appointment.objects.get(pk=appointment.pk).status == "cancelled"


def test_keywords_safety_on_and_off(client, two_caregivers):
    sam, *_ = two_caregivers
    assert "SAFETY OFF" in text(client, sam, "Safety").content.decode()
    sam.refresh_from_db()
    assert sam.safety_tips_sms
    text(client, sam, "safety off")
    sam.refresh_from_db()
    assert not sam.safety_tips_sms


# --- Found by the outside tester -------------------------------------------------------------------


def test_only_the_one_driving_can_take_the_ride_back(client, two_caregivers):
    sam, jordan, loved_one = two_caregivers
    appointment = _appointment(loved_one)
    with time_machine.travel(NOW, tick=False):
        text(client, sam, "RIDE")
        body = text(client, jordan, "NO RIDE").content.decode()
    assert "Sam said they have the ride home" in body
    appointment.refresh_from_db()
    assert appointment.ride_arranged_by_caregiver == sam
    token = ride_token(jordan.pk, appointment_id=appointment.pk, email=jordan.email)
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("portal:ride", args=[token])).content.decode()
        assert "The ride isn't arranged after all" not in page
        client.post(reverse("portal:ride", args=[token]), {"action": "undo"})
    appointment.refresh_from_db()
    assert appointment.ride_arranged


def test_two_caregivers_replying_ride_at_once_both_get_an_answer(two_caregivers):
    import threading

    from django.db import connection

    from messaging.inbound import inbound_receive

    sam, jordan, loved_one = two_caregivers
    for round_ in range(3):
        appointment = _appointment(loved_one, f"2026-12-1{round_ + 4} 10:00")
        barrier, replies = threading.Barrier(2), {}

        def reply(caregiver, round_=round_, barrier=barrier, replies=replies):
            barrier.wait()
            try:
                replies[caregiver.pk] = inbound_receive(
                    message_sid=f"SMrace{round_}{caregiver.pk}", from_number=caregiver.phone,
                    to_number=caregiver.clinic.twilio_from_number, body="RIDE",
                ).reply  # fmt: skip
            finally:
                connection.close()

        threads = [threading.Thread(target=reply, args=(c,)) for c in (sam, jordan)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert set(replies) == {sam.pk, jordan.pk}
        assert all("ride home for Alex" in r for r in replies.values())
        appointment.refresh_from_db()
        assert appointment.ride_arranged
        Appointment.objects.filter(pk=appointment.pk).update(status="cancelled")


def test_stop_the_safety_texts_stops_those_not_everything(client, two_caregivers):
    sam, *_ = two_caregivers
    text(client, sam, "SAFETY")
    body = text(client, sam, "stop the safety texts pls").content.decode()
    assert "Safety tips will come by email only" in body
    sam.refresh_from_db()
    assert sam.status == "active"
    assert not sam.safety_tips_sms


def test_two_sessions_on_one_day_make_one_check_in(two_caregivers):
    sam, _, loved_one = two_caregivers
    _appointment(loved_one, "2026-12-08 10:00")
    _appointment(loved_one, "2026-12-08 14:00")
    plan("2026-12-08 15:00Z")
    check_ins = OutboundMessage.objects.filter(caregiver=sam, rule__key="next-morning")
    assert check_ins.count() == 1


def test_a_session_booked_tomorrow_still_asks_for_the_ride_at_once(two_caregivers):
    sam, _, loved_one = two_caregivers
    with time_machine.travel("2026-12-08 20:00Z", tick=False):  # 15:00 in New York
        _appointment(loved_one, "2026-12-09 14:00")
    plan("2026-12-08 20:00Z")
    ride = OutboundMessage.objects.get(caregiver=sam, rule__key="ride-two-days-before")
    assert ride.status == "scheduled"
    assert local(ride.send_at, "America/New_York") == datetime(2026, 12, 8, 15, 0)
    assert "Reply RIDE" in ride.body


def test_a_ride_noted_by_staff_does_not_say_the_clinic_is_driving(two_caregivers, staff_user):
    sam, _, loved_one = two_caregivers
    appointment = _appointment(loved_one)
    with time_machine.travel(NOW, tick=False):
        services.appointment_mark_ride_arranged(appointment=appointment, user=staff_user)
    plan()
    (notice,) = notices(sam)
    assert "The ride home for Alex on Thursday, Dec 10 is arranged" in notice.body
    assert "clinic has" not in notice.body


def test_the_after_session_text_never_comes_before_pick_up(family, infusion):
    caregiver, loved_one = family("America/New_York")
    infusion(loved_one, "2026-12-09 19:00")  # pick-up 21:00, home 21:45: in quiet hours
    plan("2026-12-09 20:00Z")
    message = OutboundMessage.objects.get(caregiver=caregiver, rule__key="expected-end")
    assert message.status == "suppressed"
    assert message.status_reason == "quiet_hours"


def test_staff_cannot_mark_a_ride_for_an_assessment(client, staff_user, clinic):
    loved_one = factories.LovedOneFactory(clinic=clinic)
    assessment = factories.AppointmentFactory(loved_one=loved_one, kind="assessment")
    client.force_login(staff_user)
    assert client.post(reverse("portal:tomorrow"), {"appointment": assessment.pk}).status_code == 400
