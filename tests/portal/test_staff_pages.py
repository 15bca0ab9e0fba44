"""The staff portal: login, families, enrollment, appointments, courses and CSV import."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from caregiver.models import Appointment, Caregiver, ChannelConfirmation, LovedOne
from messaging.models import InboundMessage
from tests import factories
from tests.english_words import english_words
from tests.forms import CASEY, SAM, enrollment
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db(transaction=True)
NY = ZoneInfo("America/New_York")


@pytest.fixture
def family(clinic, content):
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    caregiver = factories.CaregiverFactory(clinic=clinic, name="Jordan Rivera", phone="+12025550143")
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    return loved_one


@pytest.fixture
def other_family(other_clinic):
    loved_one = factories.LovedOneFactory(clinic=other_clinic, first_name="Zed")
    caregiver = factories.CaregiverFactory(clinic=other_clinic, name="Other Person")
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    factories.AppointmentFactory(loved_one=loved_one)
    return loved_one


def next_weekday(weekday: int) -> date:
    today = timezone.now().astimezone(NY).date() + timedelta(days=1)
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def test_anonymous_staff_pages_redirect_to_the_login(client, db):
    for path in ("/staff/", "/staff/families/new/", "/staff/families/1/", "/staff/import/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/staff/login/?next=")


def test_login_with_a_wrong_password_says_so_and_the_right_one_lands_on_families(client, staff_user):
    response = client.post("/staff/login/", {"username": "dana", "password": "wrong"})
    assert "don't match" in text(response)
    response = client.post("/staff/login/", {"username": "dana", "password": "a-long-test-password"})
    assert response["Location"] == "/staff/"


def test_a_user_without_a_clinic_sees_why_not_data(db):
    client = Client()
    client.force_login(factories.UserFactory())
    response = client.get("/staff/")
    assert response.status_code == 403
    assert "isn't linked to a clinic" in text(response)


def test_families_list_shows_only_this_clinics_families_and_searches(staff_client, family, other_family):
    page = text(staff_client.get("/staff/"))
    assert "Alex" in page
    assert "Jordan Rivera" in page
    assert "Zed" not in page
    assert "Other Person" not in page
    assert "Alex" in text(staff_client.get("/staff/?q=jordan"))
    assert "Alex" in text(staff_client.get("/staff/?q=555-0143"))
    assert "No family matches" in text(staff_client.get("/staff/?q=Zed"))


def test_another_clinics_family_and_appointments_are_404(staff_client, other_family):
    appointment = other_family.appointments.get()
    caregiver = other_family.caregivers.get()
    assert staff_client.get(f"/staff/families/{other_family.pk}/").status_code == 404
    assert staff_client.get(f"/staff/families/{other_family.pk}/course/").status_code == 404
    assert staff_client.get(f"/staff/appointments/{appointment.pk}/reschedule/").status_code == 404
    assert staff_client.post(f"/staff/appointments/{appointment.pk}/cancel/").status_code == 404
    assert staff_client.post(f"/staff/caregivers/{caregiver.pk}/reinvite/").status_code == 404
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.SCHEDULED


def test_the_family_page_shows_the_timeline_with_reasons_and_crisis_alerts(staff_client, family):
    caregiver = family.caregivers.get()
    factories.OutboundMessageFactory(
        caregiver=caregiver, status="suppressed", status_reason="quiet_hours", body="Alongside: a tip held back"
    )
    factories.OutboundMessageFactory(caregiver=caregiver, status="delivered", body="Alongside: a delivered tip")
    InboundMessage.objects.create(
        message_sid="SM" + "c" * 32, from_number=caregiver.phone, to_number="+12025550199", body="I want to die",
        caregiver=caregiver, clinic=family.clinic, action=InboundMessage.Action.CRISIS,
    )  # fmt: skip
    response = staff_client.get(f"/staff/families/{family.pk}/")
    page = text(response)
    assert "a tip held back" in page
    assert "(quiet hours)" in page
    assert "a delivered tip" in page
    assert "Delivered" in page
    assert 'class="in crisis" role="alert"' in response.content.decode()
    assert "Crisis: 988 sent, staff alerted" in page


def test_enrolling_a_family_invites_each_caregiver_and_sends_nothing_else(staff_client, clinic, content):
    day = next_weekday(2)
    appointment = {"day": day.isoformat(), "at": "10:00", "kind": "infusion", "duration_minutes": "60"}
    response = staff_client.post(
        "/staff/families/new/",
        enrollment(clinic=clinic.pk, loved_one="Robin", caregivers=[CASEY, SAM], appointments=[appointment, {}]),
    )
    loved_one = LovedOne.objects.get(first_name="Robin")
    assert response["Location"] == f"/staff/families/{loved_one.pk}/"
    assert {c.status for c in loved_one.caregivers.all()} == {Caregiver.Status.PENDING}
    assert set(ChannelConfirmation.objects.values_list("method", flat=True)) == {"reply", "link"}
    casey = loved_one.caregivers.get(name="Casey Lee")
    [invite] = casey.messages.all()
    assert "Reply YES" in invite.body
    appointment = loved_one.appointments.get()
    assert appointment.starts_at.astimezone(NY) == datetime.combine(day, datetime.min.time(), NY).replace(hour=10)


def test_a_caregiver_enrolled_as_reading_spanish_is_invited_in_spanish(staff_client, clinic, content):
    spanish = {**CASEY, "name": "Rosa Díaz", "language": "es"}
    staff_client.post("/staff/families/new/", enrollment(clinic=clinic.pk, loved_one="Robin", caregivers=[spanish]))
    rosa = Caregiver.objects.get(name="Rosa Díaz")
    assert rosa.language == "es"
    [invite] = rosa.messages.all()
    assert "Responda SI" in invite.body
    assert english_words(invite.body) == []
    page = text(staff_client.get(f"/staff/families/{rosa.loved_ones.get().pk}/"))
    assert "Rosa Díaz Spanish" in page  # the language badge by the name


def test_enrolling_with_a_bad_number_shows_the_error_by_that_caregiver(staff_client, clinic, content):
    response = staff_client.post(
        "/staff/families/new/",
        enrollment(
            clinic=clinic.pk,
            loved_one="Robin",
            caregivers=[{"name": "Casey", "phone": "12345", "relationship": "parent", "channels": "sms"}],
        ),
    )
    assert response.status_code == 400
    assert "“12345” has too few digits" in text(response)
    assert not LovedOne.objects.filter(first_name="Robin").exists()


def test_enrolling_without_a_caregiver_is_refused(staff_client, clinic, content):
    response = staff_client.post(
        "/staff/families/new/",
        enrollment(clinic=clinic.pk, loved_one="Robin", caregivers=[{}]),
    )
    assert response.status_code == 400
    assert "This field is required" in text(response)


def test_adding_rescheduling_and_cancelling_an_appointment(staff_client, family):
    day = next_weekday(1)
    staff_client.post(
        f"/staff/families/{family.pk}/",
        {"new-day": day.isoformat(), "new-at": "09:30", "new-kind": "infusion", "new-duration_minutes": "45"},
    )
    appointment = family.appointments.get()
    assert appointment.starts_at.astimezone(NY).strftime("%H:%M") == "09:30"
    later = day + timedelta(days=1)
    response = staff_client.post(
        f"/staff/appointments/{appointment.pk}/reschedule/",
        {"day": later.isoformat(), "at": "14:00", "duration_minutes": "60"},
    )
    assert response["Location"] == f"/staff/families/{family.pk}/"
    appointment.refresh_from_db()
    assert appointment.starts_at.astimezone(NY).date() == later
    staff_client.post(f"/staff/appointments/{appointment.pk}/cancel/")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    response = staff_client.post(
        f"/staff/appointments/{appointment.pk}/reschedule/",
        {"day": later.isoformat(), "at": "15:00", "duration_minutes": "60"},
    )
    assert response.status_code == 400
    assert "cancelled appointment cannot be rescheduled" in text(response)


def test_a_time_skipped_by_daylight_saving_is_explained(staff_client, family):
    response = staff_client.post(
        f"/staff/families/{family.pk}/",
        {"new-day": "2027-03-14", "new-at": "02:30", "new-kind": "infusion", "new-duration_minutes": "60"},
    )
    assert response.status_code == 400
    assert "does not exist in America/New_York" in text(response)


def test_planning_a_course_previews_six_sessions_and_saves_what_is_kept(staff_client, family):
    monday = next_weekday(0)
    pattern = {
        "pattern-first_day": monday.isoformat(), "pattern-at": "10:00", "pattern-weekdays": ["0", "2", "4"],
        "pattern-sessions": "6", "pattern-maintenance_sessions": "2", "pattern-maintenance_every_weeks": "4",
        "pattern-duration_minutes": "60",
    }  # fmt: skip
    preview = staff_client.post(f"/staff/families/{family.pk}/course/", {**pattern, "step": "pattern"})
    page = text(preview)
    assert "Save 8 sessions" in page
    assert family.appointments.count() == 0
    sessions = preview.context["sessions"]
    data = {**pattern, "step": "save", "sessions-TOTAL_FORMS": "8", "sessions-INITIAL_FORMS": "0"}
    for index, form in enumerate(sessions):
        initial = form.initial
        data[f"sessions-{index}-day"] = initial["day"].isoformat()
        data[f"sessions-{index}-at"] = initial["at"].strftime("%H:%M")
        data[f"sessions-{index}-kind"] = initial["kind"]
        if index != 1:  # staff untick the second session
            data[f"sessions-{index}-include"] = "on"
    data["sessions-2-at"] = "11:15"  # and move the third
    response = staff_client.post(f"/staff/families/{family.pk}/course/", data)
    assert response["Location"] == f"/staff/families/{family.pk}/"
    saved = list(family.appointments.order_by("starts_at"))
    assert len(saved) == 7
    local = [a.starts_at.astimezone(NY) for a in saved]
    assert [d.weekday() for d in local[:5]] == [0, 4, 0, 2, 4]
    assert local[1].strftime("%H:%M") == "11:15"
    assert [a.kind for a in saved[5:]] == ["booster", "booster"]
    assert local[5].date() == local[4].date() + timedelta(weeks=4)


CSV_OK = (
    "family,loved_one,caregiver_name,caregiver_phone,caregiver_email,relationship,channels,appointment,kind\n"
    "F1,Alex,Jordan,202-555-0181,,partner,sms,2027-01-05 10:00,infusion\n"
    "F1,Alex,,,,,,2027-01-07 10:00,infusion\n"
    "F2,Blair,Kim,,kim@example.com,friend,email,,\n"
)


def upload(client, clinic, content: bytes, name="families.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post("/staff/import/", {"clinic": clinic.pk, "file": SimpleUploadedFile(name, content)})


def test_a_valid_csv_is_previewed_then_imported(staff_client, clinic, content):
    preview = upload(staff_client, clinic, CSV_OK.encode())
    assert "The file is valid: 2 families, 2 caregivers and 2 appointments" in text(preview)
    assert LovedOne.objects.count() == 0
    response = staff_client.post("/staff/import/", {"step": "import"})
    assert response["Location"] == "/staff/"
    assert sorted(LovedOne.objects.values_list("first_name", flat=True)) == ["Alex", "Blair"]
    assert Appointment.objects.count() == 2
    assert ChannelConfirmation.objects.count() == 2


def test_a_csv_with_any_bad_row_saves_nothing_and_names_each_problem(staff_client, clinic, content):
    bad = CSV_OK + "F3,Casey,Lee,555,,cousin,sms,2027-13-01 10:00,infusion\nF4,,Pat,,pat@example.com,,,,\n"
    response = upload(staff_client, clinic, bad.encode())
    page = text(response)
    assert response.status_code == 400
    assert "Nothing was saved" in page
    assert "relationship: use one of" in page
    assert "loved_one:" in page
    assert LovedOne.objects.count() == 0


@pytest.mark.parametrize(
    ("content_bytes", "says"),
    [
        (b"\xff\xfe\x00bad", "not UTF-8 text"),
        (b"name,phone\nA,B\n", "missing: family, loved_one"),
        (b"family,loved_one\n", "no rows under the header"),
    ],
)
def test_a_malformed_csv_file_is_explained(staff_client, clinic, content, content_bytes, says):
    response = upload(staff_client, clinic, content_bytes)
    assert response.status_code == 400
    assert says in text(response)


def test_staff_forms_need_the_csrf_token(staff_user, family):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    response = client.post(f"/staff/families/{family.pk}/", {"new-day": "2027-01-01"})
    assert response.status_code == 403


def test_a_new_number_waiting_for_its_yes_is_shown_with_a_way_to_ask_again(client, staff_user, clinic, content):
    from caregiver import services
    from tests import factories

    link = factories.CareLinkFactory(caregiver__clinic=clinic, loved_one__clinic=clinic, caregiver__channels="both")
    caregiver = link.caregiver
    for channel in ("sms", "email"):
        services.caregiver_opt_in(caregiver=caregiver, channel=channel, source="web", consent_text_version="v1")
    services.caregiver_update(caregiver=caregiver, phone="+14155550187", by=staff_user)
    client.force_login(staff_user)
    page = client.get(f"/staff/families/{link.loved_one.pk}/").content.decode()
    assert "YES asked of +14155550187" in page
    assert "Ask to confirm again" in page
    response = client.post(f"/staff/caregivers/{caregiver.pk}/reinvite/", follow=True)
    assert f"We asked {caregiver.name} to confirm again." in response.content.decode()
    # Only the number is asked again: the email was confirmed.
    assert set(caregiver.confirmations.filter(confirmed_at__isnull=True).values_list("channel", flat=True)) == {"sms"}
