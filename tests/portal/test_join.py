"""A caregiver signs themselves up at /join/<code>/ and confirms with a code or a link."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from caregiver.consent import CURRENT_WEB, consent_text
from caregiver.models import Caregiver, ChannelConfirmation, ConsentRecord, LovedOne
from caregiver.tokens import email_confirm_token
from messaging.models import OutboundMessage
from messaging.planning import plan_due
from tests import factories
from tests.portal.conftest import outbox_code, text

# Real commits: confirmations are sent from on-commit hooks, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

FORM = {
    "name": "Jordan Rivera",
    "phone": "(202) 555-0143",
    "email": "",
    "channels": "sms",
    "loved_one": "Alex",
    "relationship": "partner",
    "time_zone": "America/Chicago",
    "consent": "on",
}


def sign_up(client, clinic, **changes):
    return client.post(f"/join/{clinic.enrollment_code}/", {**FORM, **changes})


def test_join_asks_for_the_code_and_a_wrong_one_says_so(client, clinic_with_content):
    assert "Clinic code" in text(client.get("/join/"))
    response = client.post("/join/", {"code": "nope"})
    assert response.status_code == 400
    assert "We don't know that code" in text(response)
    response = client.post("/join/", {"code": "river 234"})
    assert response["Location"] == "/join/RIVER234/"
    # Found by an outside tester: a code written with a dash, as codes often are, was refused.
    for typed in ("RIVE-R234", "rive–r234", " RIVER-234 "):
        assert client.post("/join/", {"code": typed})["Location"] == "/join/RIVER234/", typed


def test_an_unknown_clinic_code_is_a_404(client, db):
    assert client.get("/join/NOSUCH99/").status_code == 404


def test_the_form_shows_the_exact_consent_text_and_an_unchecked_box(client, clinic_with_content):
    response = client.get("/join/RIVER234/")
    page = text(response)
    assert consent_text(clinic=clinic_with_content, version=CURRENT_WEB) in page
    assert "Msg & data rates may apply" in page
    assert "Reply STOP to opt out, HELP for help" in page
    page = response.content.decode()
    checkbox = page[page.index('name="consent"') - 80 : page.index('name="consent"') + 80]
    assert "checked" not in checkbox


def test_signing_up_by_sms_sends_only_a_code_until_confirmed(client, clinic_with_content):
    response = sign_up(client, clinic_with_content)
    assert response.status_code == 302
    assert response["Location"] == "/join/RIVER234/confirm/"
    caregiver = Caregiver.objects.get(phone="+12025550143")
    assert caregiver.status == Caregiver.Status.PENDING
    assert caregiver.time_zone == "America/Chicago"
    assert caregiver.loved_ones.get().first_name == "Alex"
    [message] = caregiver.messages.all()
    assert message.kind == OutboundMessage.Kind.CONFIRMATION
    assert "Your code is" in message.body
    # The code is stored only as a hash.
    confirmation = caregiver.confirmations.get()
    assert outbox_code(caregiver) not in confirmation.code_hash
    # Even with an appointment tomorrow, the planner sends a pending caregiver nothing.
    factories.AppointmentFactory(loved_one=caregiver.loved_ones.get(), starts_at=timezone.now() + timedelta(days=1))
    plan_due(now=timezone.now())
    assert caregiver.messages.count() == 1


def test_the_right_code_confirms_and_records_the_consent_text_version(client, clinic_with_content):
    sign_up(client, clinic_with_content)
    caregiver = Caregiver.objects.get(phone="+12025550143")
    page = text(client.get("/join/RIVER234/confirm/"))
    assert "•••-•••-0143" in page
    response = client.post("/join/RIVER234/confirm/", {"code": outbox_code(caregiver), "action": "confirm"})
    assert response["Location"] == "/join/RIVER234/done/"
    caregiver.refresh_from_db()
    assert caregiver.status == Caregiver.Status.ACTIVE
    record = caregiver.consent_records.get()
    assert (record.channel, record.action, record.consent_text_version) == ("sms", "opt_in", CURRENT_WEB)
    assert record.ip_address == "127.0.0.1"
    assert "welcome text is on its way" in text(client.get("/join/RIVER234/done/"))


def test_a_wrong_code_says_how_many_tries_are_left_and_five_lock_it(client, clinic_with_content):
    sign_up(client, clinic_with_content)
    caregiver = Caregiver.objects.get(phone="+12025550143")
    right = outbox_code(caregiver)
    wrong = "000000" if right != "000000" else "111111"
    response = client.post("/join/RIVER234/confirm/", {"code": wrong})
    assert response.status_code == 400
    assert "You have 4 tries left" in text(response)
    for _ in range(4):
        response = client.post("/join/RIVER234/confirm/", {"code": wrong})
    assert "that was the last try" in text(response)
    response = client.post("/join/RIVER234/confirm/", {"code": right})
    assert "Too many wrong tries. Send a new code." in text(response)
    assert caregiver.consent_records.count() == 0


def test_a_code_expires_after_ten_minutes(client, clinic_with_content):
    sign_up(client, clinic_with_content)
    caregiver = Caregiver.objects.get(phone="+12025550143")
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        response = client.post("/join/RIVER234/confirm/", {"code": outbox_code(caregiver)})
    assert "This code has expired" in text(response)


def test_a_new_code_replaces_the_old_one(client, clinic_with_content):
    sign_up(client, clinic_with_content)
    caregiver = Caregiver.objects.get(phone="+12025550143")
    old = outbox_code(caregiver)
    client.post("/join/RIVER234/confirm/", {"action": "resend"})
    new = outbox_code(caregiver)
    assert caregiver.messages.filter(kind="confirmation").count() == 2
    if old != new:
        assert "not right" in text(client.post("/join/RIVER234/confirm/", {"code": old}))
    assert client.post("/join/RIVER234/confirm/", {"code": new})["Location"] == "/join/RIVER234/done/"


def test_codes_to_one_number_are_rate_limited(client, clinic_with_content, settings):
    settings.CONFIRMATIONS_PER_ADDRESS_PER_HOUR = 2
    sign_up(client, clinic_with_content)
    client.post("/join/RIVER234/confirm/", {"action": "resend"})
    response = client.post("/join/RIVER234/confirm/", {"action": "resend"})
    assert response.status_code == 429
    assert "too many codes to this number" in text(response)
    assert OutboundMessage.objects.filter(kind="confirmation").count() == 2


def test_sign_ups_from_one_address_are_rate_limited(client, clinic_with_content, settings):
    settings.SIGNUPS_PER_IP_PER_HOUR = 2
    sign_up(client, clinic_with_content, phone="(202) 555-0141")
    sign_up(client, clinic_with_content, phone="(202) 555-0142")
    response = sign_up(client, clinic_with_content, phone="(202) 555-0144")
    assert response.status_code == 429
    assert "Too many sign-ups from this connection" in text(response)
    assert Caregiver.objects.count() == 2


@pytest.mark.parametrize(
    ("changes", "field_error"),
    [
        ({"phone": "555-12"}, "has too few digits"),
        ({"phone": "call me"}, "is not a phone number"),
        ({"phone": ""}, "Enter a mobile number for text messages"),
        ({"channels": "email"}, "Enter an email address for emails"),
        ({"consent": ""}, "Tick the box to agree"),
        ({"loved_one": ""}, "This field is required"),
        ({"time_zone": "Mars/Olympus"}, "Select a valid choice"),
    ],
)
def test_bad_input_is_explained_next_to_the_field(client, clinic_with_content, changes, field_error):
    response = sign_up(client, clinic_with_content, **changes)
    assert response.status_code == 400
    assert field_error in text(response)
    assert Caregiver.objects.count() == 0


def confirm_page_as_read(client, masked: str) -> str:
    # The page as a stranger reads it, with the masked number and the form's token set aside.
    return text(client.get("/join/RIVER234/confirm/")).replace(masked, "•••")


def test_signing_up_again_before_confirming_replaces_the_pending_sign_up(client, clinic_with_content):
    sign_up(client, clinic_with_content, name="Jordan Rivera", loved_one="Alex")
    first = Caregiver.objects.get(phone="+12025550143")
    old_code = outbox_code(first)
    again = Client()  # later, another browser: the first sign-up's session is gone
    response = sign_up(again, clinic_with_content, name="Jordan Rivers", loved_one="Alexis")
    assert response["Location"] == "/join/RIVER234/confirm/"
    caregiver = Caregiver.objects.get(phone="+12025550143")
    assert caregiver.pk != first.pk
    assert (caregiver.name, caregiver.loved_ones.get().first_name) == ("Jordan Rivers", "Alexis")
    assert not LovedOne.objects.filter(first_name="Alex").exists()  # the first sign-up's family went with it
    new_code = outbox_code(caregiver)
    if old_code != new_code:
        assert "not right" in text(again.post("/join/RIVER234/confirm/", {"code": old_code}))
    assert again.post("/join/RIVER234/confirm/", {"code": new_code})["Location"] == "/join/RIVER234/done/"


def test_signing_up_a_confirmed_number_shows_the_same_page_and_tells_its_owner(client, clinic_with_content):
    owner = factories.CaregiverFactory(clinic=clinic_with_content, name="Secret Person", phone="+12025550143")
    factories.ConsentRecordFactory(caregiver=owner, channel="sms")
    newcomer = Client()
    sign_up(newcomer, clinic_with_content, phone="(202) 555-0144")
    response = sign_up(client, clinic_with_content)
    assert response.status_code == 302
    assert response["Location"] == "/join/RIVER234/confirm/"
    assert confirm_page_as_read(client, "0143") == confirm_page_as_read(newcomer, "0144")
    assert Caregiver.objects.filter(phone="+12025550143").get() == owner  # nothing made, nothing changed
    [told] = owner.messages.all()
    assert (told.kind, told.channel, told.to) == ("confirmation", "sms", "+12025550143")
    assert "already signed up, so nothing changed" in told.body
    assert "Secret Person" not in told.body
    # No code exists, so none works; the answers are a real code page's.
    wrong = text(client.post("/join/RIVER234/confirm/", {"code": "123456"}))
    assert "That code is not right. You have 4 tries left." in wrong
    resent = text(client.post("/join/RIVER234/confirm/", {"action": "resend"}, follow=True))
    assert "We sent a new code to •••-•••-0143. The old one no longer works." in resent
    assert owner.messages.count() == 1  # a new code is asked for; the owner is not texted again for it


def test_someone_staff_enrolled_who_never_confirmed_signing_up_is_invited_again(
    client, clinic_with_content, staff_user
):
    """Found by an outside tester: they were told "already signed up, so nothing changed", which
    tells a person who wants to join that nothing happened. They get the invitation again."""
    from caregiver import services

    services.family_enroll(
        clinic=clinic_with_content, loved_one_name="Sam",
        caregivers=[{"name": "Jordan Rivera", "phone": "+12025550143", "relationship": "partner"}], by=staff_user,
    )  # fmt: skip
    owner = Caregiver.objects.get(phone="+12025550143")
    first = owner.messages.get()
    response = sign_up(client, clinic_with_content)
    assert response["Location"] == "/join/RIVER234/confirm/"  # the same page as any sign-up
    assert Caregiver.objects.filter(phone="+12025550143").get() == owner
    newest = owner.messages.latest("id")
    assert newest != first
    assert newest.kind == "confirmation"
    assert "already signed up" not in newest.body
    assert "YES" in newest.body
    first.refresh_from_db()
    assert (first.status, first.status_reason) in {("cancelled", "superseded"), ("sent", "")}


def test_an_invitation_asked_for_from_the_sign_up_page_goes_at_once_even_at_night(
    client, clinic_with_content, staff_user
):
    """Found by an outside tester at 9:30 PM: the page said a text was on its way and none came
    (the invitation waited for the morning, as a staff one does)."""
    from caregiver import services

    with time_machine.travel(datetime(2027, 3, 10, 22, 30, tzinfo=ZoneInfo("America/New_York")), tick=False):
        services.family_enroll(
            clinic=clinic_with_content, loved_one_name="Sam",
            caregivers=[{"name": "Jordan Rivera", "phone": "+12025550143", "relationship": "partner"}], by=staff_user,
        )  # fmt: skip
        owner = Caregiver.objects.get(phone="+12025550143")
        assert owner.messages.get().send_at > timezone.now()  # staff's waits for 8 AM
        sign_up(client, clinic_with_content)
        newest = owner.messages.latest("id")
        assert (newest.kind, newest.send_at) == ("confirmation", timezone.now())
        assert "reply YES" in text(client.get("/join/RIVER234/confirm/"))


def test_a_taken_number_is_limited_like_a_new_one(client, clinic_with_content, settings):
    settings.CONFIRMATIONS_PER_ADDRESS_PER_HOUR = 1
    owner = factories.CaregiverFactory(clinic=clinic_with_content, phone="+12025550143")
    factories.ConsentRecordFactory(caregiver=owner, channel="sms")
    sign_up(client, clinic_with_content)
    response = sign_up(Client(), clinic_with_content)
    assert response.status_code == 429
    assert "too many codes to this number" in text(response)
    assert owner.messages.count() == 1


def test_signing_up_a_confirmed_email_tells_its_owner_by_email(client, clinic_with_content):
    owner = factories.CaregiverFactory(clinic=clinic_with_content, email="jordan@example.com", channels="email")
    factories.ConsentRecordFactory(caregiver=owner, channel="email")
    sign_up(client, clinic_with_content, channels="email", phone="", email="Jordan@Example.com")
    assert "We emailed a confirmation link to j•••@example.com" in text(client.get("/join/RIVER234/confirm/"))
    [told] = owner.messages.all()
    assert (told.channel, told.subject) == ("email", "You're already signed up for Alongside")
    assert Caregiver.objects.count() == 1


def test_bad_input_with_a_taken_number_is_explained_as_for_a_new_one(client, clinic_with_content):
    factories.CaregiverFactory(clinic=clinic_with_content, phone="+12025550143")
    response = sign_up(client, clinic_with_content, loved_one="")
    assert response.status_code == 400
    assert "This field is required" in text(response)


def test_staff_can_enroll_a_number_someone_only_started_signing_up_with(client, clinic_with_content, staff_user):
    from caregiver import services

    sign_up(client, clinic_with_content)
    services.family_enroll(
        clinic=clinic_with_content, loved_one_name="Sam",
        caregivers=[{"name": "Jordan Rivera", "phone": "+12025550143", "relationship": "partner"}], by=staff_user,
    )  # fmt: skip
    caregiver = Caregiver.objects.get(phone="+12025550143")
    assert caregiver.loved_ones.get().first_name == "Sam"
    assert caregiver.confirmations.get().source == "staff"
    assert "Your sign-up session has ended" in text(client.get("/join/RIVER234/confirm/", follow=True))


def test_the_families_import_preview_and_import_make_way_for_a_pending_sign_up(client, clinic_with_content):
    """The preview used to call a number only a pending sign-up held "already enrolled", while the
    import itself replaces such a sign-up: the two now agree."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    sign_up(client, clinic_with_content)
    assert Caregiver.objects.filter(phone="+12025550143", status="pending").exists()
    user = factories.UserFactory()
    factories.StaffMembershipFactory(user=user, clinic=clinic_with_content)
    staff = Client()
    staff.force_login(user)
    csv = "family,loved_one,caregiver_name,caregiver_phone\nA,Sam,Jordan Rivera,(202) 555-0143\n"
    upload = SimpleUploadedFile("families.csv", csv.encode())
    preview = text(staff.post("/staff/import/", {"file": upload, "clinic": clinic_with_content.pk}))
    assert "already enrolled" not in preview
    assert Caregiver.objects.filter(phone="+12025550143", status="pending").exists()  # a preview writes nothing
    assert staff.post("/staff/import/", {"step": "import", "confirm": "on"}).status_code == 302
    caregiver = Caregiver.objects.get(phone="+12025550143")
    assert caregiver.loved_ones.get().first_name == "Sam"


def test_sign_ups_nobody_confirms_are_deleted_after_seven_days(client, clinic_with_content):
    from caregiver import services

    with time_machine.travel("2026-12-01 12:00Z"):
        sign_up(client, clinic_with_content)
        confirmed = factories.CaregiverFactory(clinic=clinic_with_content, status="pending")
        factories.ConsentRecordFactory(caregiver=confirmed, channel="sms")
        staff_entered = services.caregiver_create(clinic=clinic_with_content, name="Kim", phone="+12025550177")
        services.caregiver_invite(caregiver=staff_entered, by=None)
    assert services.sign_ups_expire(now=timezone.now().replace(year=2026, month=12, day=7)) == 0
    with time_machine.travel("2026-12-08 12:01Z"):
        assert services.sign_ups_expire(now=timezone.now()) == 1
    assert not Caregiver.objects.filter(phone="+12025550143").exists()
    assert not LovedOne.objects.filter(first_name="Alex").exists()
    assert not OutboundMessage.objects.filter(to="+12025550143").exists()
    assert set(Caregiver.objects.all()) == {confirmed, staff_entered}


def test_the_done_page_says_how_to_change_preferences_and_gives_the_clinic_phone(client, clinic_with_content):
    sign_up(client, clinic_with_content)
    caregiver = Caregiver.objects.get(phone="+12025550143")
    client.post("/join/RIVER234/confirm/", {"code": outbox_code(caregiver)})
    response = client.get("/join/RIVER234/done/")
    page = text(response)
    assert "reply PREFS to any of our texts for a link" in page
    assert "call Riverside Clinic at (202) 555-0100" in page
    link = re.search(r'href="(/p/[^"]+/)"', response.content.decode()).group(1)
    assert "Your Alongside messages" in text(client.get(link))


def test_signing_up_by_email_sends_a_link_that_confirms_on_a_button_press(client, clinic_with_content):
    sign_up(client, clinic_with_content, channels="email", phone="", email="Jordan@Example.com")
    caregiver = Caregiver.objects.get(email="jordan@example.com")
    [message] = caregiver.messages.all()
    assert message.channel == "email"
    confirmation = caregiver.confirmations.get()
    link = f"/email/confirm/{email_confirm_token(confirmation.pk)}/"
    assert link in message.body
    # A link to click in the HTML email, not an address to copy (found by an outside tester).
    assert re.search(r'<a href="[^"]*' + re.escape(link) + '"', message.html)
    # Opening the link (a mail scanner might) confirms nothing.
    assert "Yes, confirm my email" in text(client.get(link))
    assert caregiver.consent_records.count() == 0
    assert "is confirmed" in text(client.post(link))
    record = caregiver.consent_records.get()
    assert (record.channel, record.source, record.consent_text_version) == ("email", "email", CURRENT_WEB)
    assert "already confirmed" in text(client.get(link))


def test_a_replaced_email_link_says_so_without_a_button_and_the_new_one_leads_on(client, clinic_with_content):
    from caregiver import services

    sign_up(client, clinic_with_content, channels="email", phone="", email="jordan@example.com")
    old = ChannelConfirmation.objects.get()
    new = services.confirmation_start(
        caregiver=old.caregiver, channel="email", source="web", consent_text_version=CURRENT_WEB
    )
    response = client.get(f"/email/confirm/{email_confirm_token(old.pk)}/")
    assert response.status_code == 410
    assert "replaced by a newer one" in text(response)
    assert "Yes, confirm my email" not in text(response)
    done = client.post(f"/email/confirm/{email_confirm_token(new.pk)}/")
    page = text(done)
    assert "is confirmed" in page
    assert "call Riverside Clinic at (202) 555-0100" in page.replace("Questions? Call", "call")
    link = re.search(r'href="(/p/[^"]+/)"', done.content.decode()).group(1)
    assert "Your Alongside messages" in text(client.get(link))


def test_a_tampered_or_old_email_link_is_refused(client, clinic_with_content):
    assert client.get("/email/confirm/not-a-token/").status_code == 404
    sign_up(client, clinic_with_content, channels="email", phone="", email="jordan@example.com")
    confirmation = ChannelConfirmation.objects.get()
    link = f"/email/confirm/{email_confirm_token(confirmation.pk)}/"
    with time_machine.travel(timezone.now() + timedelta(days=4)):
        assert client.get(link).status_code == 404
    assert ConsentRecord.objects.count() == 0


def test_the_confirm_page_needs_the_sign_up_session(client, clinic_with_content):
    response = client.get("/join/RIVER234/confirm/")
    assert response["Location"] == "/join/RIVER234/"


def test_beat_deletes_expired_sign_ups_every_hour(client, clinic_with_content, settings):
    from config.celery import app
    from messaging.tasks import sign_ups_expire_task

    entry = settings.CELERY_BEAT_SCHEDULE["expire-sign-ups"]
    assert (entry["task"] in app.tasks, entry["schedule"]) == (True, 3600.0)
    with time_machine.travel("2026-12-01 12:00Z"):
        sign_up(client, clinic_with_content)
    with time_machine.travel("2026-12-08 12:01Z"):
        assert sign_ups_expire_task() == {"deleted": 1}
    assert not Caregiver.objects.exists()


def test_signing_up_again_with_an_unconfirmed_email_replaces_that_sign_up(client, clinic_with_content):
    sign_up(client, clinic_with_content, channels="email", phone="", email="jordan@example.com")
    first = Caregiver.objects.get(email="jordan@example.com")
    response = sign_up(Client(), clinic_with_content, channels="email", phone="", email="Jordan@Example.com")
    assert response["Location"] == "/join/RIVER234/confirm/"
    caregiver = Caregiver.objects.get(email="jordan@example.com")
    assert caregiver.pk != first.pk
    assert caregiver.messages.filter(channel="email", kind="confirmation").count() == 1


def test_staff_giving_a_caregiver_an_address_only_a_pending_sign_up_has_is_not_blocked(
    client, clinic_with_content, staff_user
):
    from caregiver import services

    sign_up(client, clinic_with_content)
    enrolled = factories.CaregiverFactory(clinic=clinic_with_content, phone="+12025550150")
    services.caregiver_update(caregiver=enrolled, phone="(202) 555-0143", by=staff_user)
    assert list(Caregiver.objects.filter(phone="+12025550143")) == [enrolled]


def test_the_clinics_own_number_is_not_a_caregivers_mobile(client, clinic_with_content):
    """Found by an outside tester: a sign-up with the clinic's sending number queued a code from
    that number to itself."""
    for number in (clinic_with_content.twilio_from_number, clinic_with_content.contact_phone):
        response = sign_up(client, clinic_with_content, phone=number)
        assert response.status_code == 400
        assert "This is the clinic's own number" in text(response)
    assert not Caregiver.objects.exists()


def test_public_pages_answer_head_as_they_answer_get(client, clinic):
    """Link checkers and monitors ask with HEAD; it was a 405 (found by the outside tester)."""
    for path in ("/join/", f"/join/{clinic.enrollment_code}/", "/healthz"):
        assert client.head(path).status_code == 200, path
