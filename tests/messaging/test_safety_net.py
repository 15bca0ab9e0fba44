"""Every text from a person gets a safe answer, through the signed webhook, as families text."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from caregiver import selectors
from messaging.models import CrisisAlert, InboundMessage, OutboundMessage
from tests import factories
from tests.factories import ClinicFactory, OnCallContactFactory, OutboundMessageFactory
from tests.messaging.texting import INBOUND, post, text, text_from

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("twilio_token")]
STRANGER = "+14155550123"


def reply_of(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


# --- Opt-outs in plain words ---------------------------------------------------------------------


def test_an_opt_out_written_as_a_sentence_is_honoured_and_confirmed(
    client, caregiver, django_capture_on_commit_callbacks
):
    pending = OutboundMessageFactory(caregiver=caregiver, kind="tip", status="scheduled", channel="sms")
    with django_capture_on_commit_callbacks(execute=True):
        body = reply_of(text(client, caregiver, "pls take me off this list, my mom finished her treatment"))
    assert "unsubscribed" in body
    assert selectors.caregiver_consent(caregiver=caregiver)["sms"] is False
    record = caregiver.consent_records.get(action="opt_out")
    assert (record.source, record.message_sid) == ("sms", InboundMessage.objects.get().message_sid)
    pending.refresh_from_db()
    assert pending.status in ("cancelled", "suppressed")


def test_a_second_opt_out_in_other_words_is_not_confirmed_again(client, caregiver):
    assert "unsubscribed" in reply_of(text(client, caregiver, "stop texting me"))
    second = reply_of(text(client, caregiver, "I said leave me alone"))
    assert second.endswith("<Response></Response>")
    assert caregiver.consent_records.filter(action="opt_out").count() == 2


def test_a_number_that_stopped_and_writes_again_is_told_how_to_start_again(client, content, caregiver):
    # An outside tester's family opted out, then wrote "oigan ya no me llegan los mensajes" and got
    # "thanks for your message": the answer they needed was how to get the texts back.
    text(client, caregiver, "STOP")
    body = reply_of(text(client, caregiver, "hey I'm not getting the texts anymore?"))
    assert "You stopped our texts. Reply START to get them again." in body
    assert "988" in body
    assert "911" in body
    assert selectors.caregiver_consent(caregiver=caregiver)["sms"] is False
    caregiver.language = "es"
    caregiver.save(update_fields=["language"])
    InboundMessage.objects.update(auto_replied=False)  # a new day
    body = reply_of(text(client, caregiver, "oigan ya no me llegan los mensajes"))
    assert "Responda INICIO para" in body


def test_a_request_for_fewer_texts_gets_the_preferences_link_and_stays_subscribed(client, caregiver):
    body = reply_of(text(client, caregiver, "can you text less often? its a lot"))
    assert "/p/" in body
    assert "Reply STOP" in body
    assert selectors.caregiver_consent(caregiver=caregiver)["sms"] is True
    assert InboundMessage.objects.get().action == "preferences"


def test_a_text_that_might_be_an_opt_out_goes_to_staff_and_says_how_to_stop(client, caregiver):
    body = reply_of(text(client, caregiver, "this is getting annoying"))
    assert "Reply STOP" in body
    assert selectors.caregiver_consent(caregiver=caregiver)["sms"] is True
    assert InboundMessage.objects.get().action == "review"


def test_stop_about_something_else_is_not_an_opt_out(client, caregiver):
    text(client, caregiver, "the nausea finally stopped around 8, thank you")
    text(client, caregiver, "we need to cancel thursday's appointment")
    assert selectors.caregiver_consent(caregiver=caregiver)["sms"] is True


# --- Danger ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "words",
    [
        "she took a whole bottle of pills and i cant wake her",
        # An outside tester's text: an injury on the way home leads with 911 too.
        "we are in a car accident on the way home, she is bleeding",
    ],
)
def test_a_medical_emergency_is_answered_with_911_first(client, caregiver, words):
    body = reply_of(text(client, caregiver, words))
    assert body.index("911") < body.index("988")
    assert CrisisAlert.objects.get().severity == "emergency"


def test_a_danger_text_with_stop_in_it_is_answered_as_danger_and_opts_nobody_out(client, caregiver):
    body = reply_of(text(client, caregiver, "stop. he swallowed a whole bottle of pills"))
    assert "911" in body
    assert CrisisAlert.objects.get().caregiver == caregiver
    assert selectors.caregiver_consent(caregiver=caregiver)["sms"] is True  # staff follow up; no silent stop


def test_an_opt_out_after_a_crisis_text_leaves_the_on_call_alert_to_go_out(client, caregiver):
    OnCallContactFactory(clinic=caregiver.clinic, position=0, name="Riley")
    text(client, caregiver, "he took all his pills and wont wake up")
    text(client, caregiver, "stop texting me")
    alert_sms = OutboundMessage.objects.get(crisis_alert__isnull=False, channel="sms")
    assert alert_sms.status == "scheduled"


def test_a_worrying_text_after_the_days_auto_reply_still_hears_988_and_911(client, caregiver):
    text(client, caregiver, "thanks for the tip")
    body = reply_of(text(client, caregiver, "pulse is really weak and hes clammy and pale"))
    assert "911" in body
    assert "988" in body


def test_stop_sent_twice_is_confirmed_once(client, caregiver):
    assert "unsubscribed" in reply_of(text(client, caregiver, "STOP!!!"))
    assert reply_of(text(client, caregiver, "Unsubscribe")).endswith("<Response></Response>")


def test_stop_from_a_number_that_never_said_yes_is_answered_once(client, content):
    """Found by an outside tester: a staff-enrolled number that never confirmed texted STOP and
    heard nothing back."""
    link = factories.CareLinkFactory(caregiver__status="pending", caregiver__phone="+12025550166")
    pending = link.caregiver
    assert "unsubscribed" in reply_of(text(client, pending, "STOP"))
    assert selectors.caregiver_consent(caregiver=pending)["sms"] is False
    assert reply_of(text(client, pending, "stop")).endswith("<Response></Response>")


@pytest.mark.parametrize(
    "body", ["my phone is dying, will text later", "the bus stop is right outside the clinic right?"]
)
def test_everyday_words_are_not_read_as_asking_for_fewer_texts(client, caregiver, body):
    text(client, caregiver, body)
    assert InboundMessage.objects.get().action == "stored"


def test_help_alone_gets_the_help_reply_and_an_alert_to_acknowledge_but_pages_nobody(client, caregiver):
    OnCallContactFactory(clinic=caregiver.clinic, position=0, name="Riley")
    body = reply_of(text(client, caregiver, "help"))
    assert "(202) 555-0100" in body
    assert "988" in body
    alert = CrisisAlert.objects.get()
    assert (alert.status, alert.severity, alert.next_escalation_at) == ("open", "help", None)
    assert InboundMessage.objects.get().action == "help"  # not "crisis": the family is not flagged
    # The staff are emailed; the on-call contact's phone is not paged, and nothing escalates.
    told = OutboundMessage.objects.filter(kind="alert")
    assert set(told.values_list("channel", "to")) == {("email", caregiver.clinic.contact_email)}


def test_after_a_bereavement_the_crisis_reply_does_not_name_the_loved_one(client, caregiver):
    """Found by an outside tester: "If you or Rosa may be in danger", to a parent whose Rosa died."""
    from caregiver import services

    staff = factories.StaffMembershipFactory(clinic=caregiver.clinic).user
    services.family_archive(loved_one=caregiver.loved_ones.get(), reason="bereavement", by=staff)
    body = reply_of(text(client, caregiver, "i cant stop thinking about ending it since alex died"))
    assert "988" in body
    assert "Alex" not in body
    assert CrisisAlert.objects.get().status == "open"


def test_help_alone_from_a_number_we_dont_know_pages_on_call_as_before(client, caregiver):
    """Nobody could be emailed about a stranger, so their HELP pages on call like any crisis."""
    OnCallContactFactory(clinic=caregiver.clinic, position=0, name="Riley", phone="+12025553998")
    body = reply_of(text_from(client, sender="+12025550166", to=caregiver.clinic.twilio_from_number, body="help"))
    assert "988" in body
    assert CrisisAlert.objects.get().severity == "danger"
    assert OutboundMessage.objects.filter(kind="alert", channel="sms", to="+12025553998").exists()


def test_help_with_words_around_it_is_still_a_crisis_that_pages_on_call(client, caregiver):
    OnCallContactFactory(clinic=caregiver.clinic, position=0, name="Riley", phone="+12025553999")
    body = reply_of(text(client, caregiver, "help me please hes not breathing right"))
    assert "911" in body
    assert CrisisAlert.objects.get().severity in ("danger", "emergency")
    assert OutboundMessage.objects.filter(kind="alert", channel="sms", to="+12025553999").exists()


# --- The auto-reply --------------------------------------------------------------------------------


def test_the_auto_reply_comes_once_per_sender_in_the_clinics_window(client, caregiver):
    caregiver.clinic.auto_reply_hours = 2
    caregiver.clinic.save()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert "watched around the clock" in reply_of(text(client, caregiver, "ok thank you"))
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        assert reply_of(text(client, caregiver, "see you then")).endswith("<Response></Response>")
    with time_machine.travel(start + timedelta(hours=2, minutes=1), tick=False):
        assert "watched around the clock" in reply_of(text(client, caregiver, "one more question"))


def test_a_keyword_or_crisis_reply_does_not_use_up_the_auto_reply(client, caregiver):
    text(client, caregiver, "RIDE")
    assert "watched around the clock" in reply_of(text(client, caregiver, "thanks"))


# --- Numbers we don't know -------------------------------------------------------------------------


def test_a_plain_text_from_an_unknown_number_gets_the_auto_reply_and_is_kept(client, caregiver):
    body = reply_of(text_from(client, sender=STRANGER, to=caregiver.clinic.twilio_from_number, body="who is this?"))
    assert "watched around the clock" in body
    stored = InboundMessage.objects.get()
    assert (stored.action, stored.clinic, stored.caregiver) == ("unknown_sender", caregiver.clinic, None)


def test_stop_from_an_unknown_number_gets_no_reply(client, caregiver):
    body = reply_of(text_from(client, sender=STRANGER, to=caregiver.clinic.twilio_from_number, body="STOP"))
    assert body.endswith("<Response></Response>")


def test_a_crisis_text_to_a_number_no_clinic_owns_gets_988_and_claims_no_alert(client, content):
    body = reply_of(text_from(client, sender=STRANGER, to="+14155550999", body="my son wants to kill himself"))
    assert "988" in body
    assert "know" not in body  # nobody could be told, so the reply does not say so
    assert not CrisisAlert.objects.exists()


# --- Bad input: one correct answer each, never a 500, never two alerts ----------------------------


@pytest.mark.parametrize(
    "body",
    ["", "   ", "🙏🙏🙏", "x" * 5000, "Привет, спасибо 谢谢 شكرا", "ok\n\n\nthanks", "\u200b\u200b"],
    ids=["empty", "spaces", "emoji", "huge", "mixed-scripts", "newlines", "zero-width"],
)
def test_odd_bodies_get_one_safe_answer(client, caregiver, body):
    reply = reply_of(text(client, caregiver, body))
    assert "911" in reply  # the auto-reply: this is the first text of the day
    stored = InboundMessage.objects.get()
    assert len(stored.body) <= 1600


def test_a_picture_with_no_text_gets_the_auto_reply(client, caregiver):
    params = {"MessageSid": "MM" + "1" * 32, "From": caregiver.phone, "To": caregiver.clinic.twilio_from_number,
              "Body": "", "NumMedia": "1", "MediaUrl0": "https://api.twilio.com/media/1"}  # fmt: skip
    assert "911" in reply_of(post(client, INBOUND, params))


def test_a_crisis_text_delivered_three_times_makes_one_alert_and_one_reply(client, caregiver, staff_user):
    staff_user.memberships.update(clinic=caregiver.clinic)
    replies = {reply_of(text(client, caregiver, "he has a gun and said goodbye", sid="SMsame")) for _ in range(3)}
    assert len(replies) == 1
    assert CrisisAlert.objects.count() == 1
    assert OutboundMessage.objects.filter(kind="reply").count() == 1
    notified = OutboundMessage.objects.filter(kind="alert").values_list("to", flat=True)
    assert len(notified) == len(set(notified))


def test_a_caregiver_at_two_clinics_is_read_at_the_one_whose_number_they_texted(client, caregiver):
    other = ClinicFactory(twilio_from_number="+12025550777")
    assert text_from(client, sender=caregiver.phone, to=other.twilio_from_number, body="thanks").status_code == 200
    stored = InboundMessage.objects.get()
    assert (stored.clinic, stored.caregiver) == (other, None)


def test_while_a_family_s_alert_is_open_every_text_of_theirs_gets_988_and_911(client, content, caregiver):
    # An outside tester's "no me abre la puerta!!" and "q hago???" during an open crisis got the
    # routine auto-reply, or nothing inside its once-a-day window.
    text(client, caregiver, "she said she wants to die")
    for body in ("she won't open the door!!", "what do I do???"):
        answer = reply_of(text(client, caregiver, body))
        assert "988" in answer, body
        assert "911" in answer, body
        assert "Thanks for your message" not in answer
    CrisisAlert.objects.update(
        status="closed", acknowledged_at=timezone.now(), closed_at=timezone.now(), close_note="all safe"
    )
    InboundMessage.objects.update(auto_replied=True)
    assert reply_of(text(client, caregiver, "ok thanks")).endswith("<Response></Response>")
