"""A caregiver changes what they get from a signed link, without a password."""

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from caregiver.models import Caregiver, ConsentRecord
from caregiver.selectors import caregiver_consent
from caregiver.tokens import preferences_link, preferences_token
from messaging import rendering
from messaging.inbound import inbound_receive
from tests import factories
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db(transaction=True)

SAVE = {
    "action": "save", "sms": "on", "tip_frequency": "weekly", "tip_time": "17:30",
    "quiet_start": "22:00", "quiet_end": "07:30", "time_zone": "America/Denver",
}  # fmt: skip


@pytest.fixture
def caregiver(content):
    caregiver = factories.CaregiverFactory(email="sam@example.com", channels="sms")
    factories.ConsentRecordFactory(caregiver=caregiver, channel="sms")
    return caregiver


def url(caregiver) -> str:
    return f"/p/{preferences_token(caregiver.pk, address=caregiver.phone)}/"


def test_every_email_carries_the_preferences_link(caregiver):
    body = rendering.tip_body(tip=factories_tip(), channel="email", caregiver=caregiver)
    for part in (body.text, body.html):
        token = re.search(r"/p/([^/]+)/", part).group(1)
        assert preferences_link(token)[0] == caregiver.pk


def factories_tip():
    from content.models import Tip

    return Tip.objects.filter(active=True).first()


def test_texting_prefs_replies_with_the_link(caregiver):
    result = inbound_receive(
        message_sid="SM" + "1" * 32, from_number=caregiver.phone, to_number=caregiver.clinic.twilio_from_number,
        body="prefs",
    )  # fmt: skip
    assert rendering.preferences_url(caregiver, channel="sms") in result.reply


def test_saving_preferences_changes_them_and_says_so(client, caregiver):
    response = client.post(url(caregiver), SAVE, follow=True)
    assert "Your preferences are saved." in text(response)
    caregiver.refresh_from_db()
    assert caregiver.tip_frequency == "weekly"
    assert f"{caregiver.tip_time:%H:%M}" == "17:30"
    assert (f"{caregiver.quiet_start:%H:%M}", f"{caregiver.quiet_end:%H:%M}") == ("22:00", "07:30")
    assert caregiver.time_zone == "America/Denver"


def test_switching_a_channel_off_records_an_opt_out(client, caregiver):
    caregiver.channels = "both"
    caregiver.save()
    factories.ConsentRecordFactory(caregiver=caregiver, channel="email")
    client.post(url(caregiver), {**SAVE, "sms": "", "email": "on"})
    assert caregiver_consent(caregiver=caregiver) == {"sms": False, "email": True}
    record = caregiver.consent_records.filter(channel="sms").first()
    assert (record.action, record.source) == ("opt_out", "web")


def test_saving_never_sends_a_confirmation_to_a_channel_never_confirmed(client, caregiver):
    response = client.post(url(caregiver), {**SAVE, "email": "on"}, follow=True)
    assert "Your preferences are saved." in text(response)
    assert caregiver_consent(caregiver=caregiver) == {"sms": True}
    assert not caregiver.messages.filter(kind="confirmation").exists()
    for _ in range(2):  # saving again sends nothing either
        client.post(url(caregiver), SAVE)
    assert not caregiver.messages.filter(kind="confirmation").exists()


def test_only_confirmed_channels_show_as_on_and_the_other_offers_a_confirmation(client, caregiver):
    Caregiver.objects.filter(pk=caregiver.pk).update(channels="both")  # chose email too, never confirmed it
    page = client.get(url(caregiver)).content.decode()
    assert re.search(r'<input type="checkbox" name="sms"[^>]*checked', page)
    email_box = re.search(r'<input type="checkbox" name="email"[^>]*>', page).group(0)
    assert "checked" not in email_box
    assert "disabled" in email_box
    assert "s•••@example.com is not confirmed yet, so we send no email there." in text(client.get(url(caregiver)))
    assert not caregiver.messages.filter(kind="confirmation").exists()


def test_the_confirm_button_sends_one_confirmation_when_pressed(client, caregiver):
    response = client.post(url(caregiver), {"action": "confirm_email"}, follow=True)
    assert "We sent you an email. Open the link in it to start email." in text(response)
    assert caregiver.messages.filter(kind="confirmation", channel="email").count() == 1
    caregiver.refresh_from_db()
    assert caregiver.channels == "both"
    assert caregiver_consent(caregiver=caregiver) == {"sms": True}  # on only once the link is opened


def test_a_confirmed_channel_has_no_confirm_button(client, caregiver):
    response = client.post(url(caregiver), {"action": "confirm_sms"})
    assert response.status_code == 400
    assert "Your text messages are confirmed already" in text(response)
    assert not caregiver.messages.filter(kind="confirmation").exists()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"quiet_start": "00:00", "quiet_end": "23:59"}, "quiet_end",
         "Quiet hours from 12:00 AM to 11:59 PM leave no time between 8 AM and 9 PM for messages."),
        ({"quiet_start": "10:00", "quiet_end": "19:00"}, "quiet_end", "leave only 4 hours between 8 AM and 9 PM"),
        ({"tip_time": "07:00"}, "tip_time",
         "7:00 AM is inside your quiet hours (10:00 PM to 7:30 AM). Choose a time for tips outside them."),
    ],
)  # fmt: skip
def test_quiet_hours_that_leave_too_little_day_or_hide_the_tip_time_are_refused(
    client, caregiver, fields, field, message
):
    response = client.post(url(caregiver), {**SAVE, **fields})
    assert response.status_code == 400
    errors = re.search(rf'<p class="error" id="id_{field}_error">([^<]*)</p>', response.content.decode())
    assert message in html.unescape(errors.group(1))
    caregiver.refresh_from_db()
    assert (f"{caregiver.quiet_start:%H:%M}", f"{caregiver.quiet_end:%H:%M}") == ("21:00", "08:00")


def test_staff_api_edits_follow_the_same_quiet_hours_rule(caregiver):
    from tests.clients import token_client

    user = factories.StaffMembershipFactory(clinic=caregiver.clinic).user
    response = token_client(user).patch(
        f"/api/v1/caregivers/{caregiver.pk}/", {"quiet_start": "00:00", "quiet_end": "23:59"}, format="json"
    )
    assert response.status_code == 400
    assert "leave no time between 8 AM and 9 PM" in str(response.json())
    response = token_client(user).patch(f"/api/v1/caregivers/{caregiver.pk}/", {"tip_time": "22:30"}, format="json")
    assert response.status_code == 400
    assert "10:30 PM is inside your quiet hours" in str(response.json())


def test_choosing_no_channel_is_explained(client, caregiver):
    response = client.post(url(caregiver), {**SAVE, "sms": ""})
    assert response.status_code == 400
    assert "Choose text messages, email or both" in text(response)


def test_pausing_for_a_week_and_resuming(client, caregiver):
    client.post(url(caregiver), {"action": "pause", "days": "7"})
    caregiver.refresh_from_db()
    assert caregiver.status == Caregiver.Status.PAUSED
    assert timedelta(days=6) < caregiver.paused_until - timezone.now() <= timedelta(days=7)
    assert "Paused until" in text(client.get(url(caregiver)))
    client.post(url(caregiver), {"action": "resume"})
    caregiver.refresh_from_db()
    assert caregiver.status == Caregiver.Status.ACTIVE


def test_stop_everything_opts_out_of_every_channel(client, caregiver):
    response = client.post(url(caregiver), {"action": "stop"}, follow=True)
    assert "You will get nothing more" in text(response)
    caregiver.refresh_from_db()
    assert caregiver.status == Caregiver.Status.OPTED_OUT
    assert set(caregiver.consent_records.filter(action="opt_out").values_list("channel", flat=True)) == {
        ConsentRecord.Channel.SMS,
        ConsentRecord.Channel.EMAIL,
    }


def test_the_link_expires_after_30_days_and_cannot_be_forged(client, caregiver):
    link = url(caregiver)
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        response = client.get(link)
    assert response.status_code == 404
    assert "This link does not work" in text(response)
    assert client.get(link[:-3] + "xx/").status_code == 404


# --- Safety tips by text ---------------------------------------------------------------------------

SAFETY_LABEL = "Also text me safety tips (warning signs and what to do in a crisis)."


def test_someone_who_gets_texts_can_ask_for_safety_tips_by_text_too(client, caregiver):
    assert SAFETY_LABEL in text(client.get(url(caregiver)))
    client.post(url(caregiver), {**SAVE, "safety_tips_sms": "on"})
    caregiver.refresh_from_db()
    assert caregiver.safety_tips_sms is True
    client.post(url(caregiver), SAVE)  # the box left unticked
    caregiver.refresh_from_db()
    assert caregiver.safety_tips_sms is False


def test_safety_tips_by_text_are_not_offered_to_someone_who_gets_only_email(client, content):
    caregiver = factories.CaregiverFactory(email="sam@example.com", channels="email", safety_tips_sms=True)
    factories.ConsentRecordFactory(caregiver=caregiver, channel="email")
    link = f"/p/{preferences_token(caregiver.pk, address=caregiver.email)}/"
    assert "safety tips" not in text(client.get(link))
    client.post(link, {**SAVE, "sms": "", "email": "on"})
    caregiver.refresh_from_db()
    assert caregiver.safety_tips_sms is True  # not asked, so not changed


# --- The calendar link -----------------------------------------------------------------------------


def test_the_calendar_link_is_made_only_when_asked_for(client, caregiver):
    page = text(client.get(url(caregiver)))
    assert "Get my calendar link" in page
    assert "/calendar/" not in client.get(url(caregiver)).content.decode()
    caregiver.refresh_from_db()
    assert caregiver.calendar_secret == ""

    response = client.post(url(caregiver), {"action": "calendar"}, follow=True)
    caregiver.refresh_from_db()
    feed = f"/calendar/{caregiver.calendar_secret}.ics"
    html = response.content.decode()
    assert f"http://localhost:8000{feed}" in html
    assert f"webcal://localhost:8000{feed}" in html
    assert "Make a new link (the old one stops working)" in text(response)
    assert "Get my calendar link" not in text(response)
    assert client.get(feed).status_code == 200


def test_a_new_calendar_link_stops_the_old_one(client, caregiver):
    client.post(url(caregiver), {"action": "calendar"})
    caregiver.refresh_from_db()
    old = f"/calendar/{caregiver.calendar_secret}.ics"
    response = client.post(url(caregiver), {"action": "calendar_reset"}, follow=True)
    assert "The old one no longer works" in text(response)
    caregiver.refresh_from_db()
    new = f"/calendar/{caregiver.calendar_secret}.ics"
    assert new != old
    assert new in response.content.decode()
    assert (client.get(old).status_code, client.get(new).status_code) == (404, 200)


def test_after_stopping_everything_there_is_no_calendar_to_get(client, caregiver):
    client.post(url(caregiver), {"action": "stop"})
    assert "Get my calendar link" not in text(client.get(url(caregiver)))
    assert client.post(url(caregiver), {"action": "calendar"}).status_code == 400
    caregiver.refresh_from_db()
    assert caregiver.calendar_secret == ""
