"""Was this helpful? Two links in every tip email, and a 1 or 2 in reply to a tip by text."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from django.utils.html import escape

from caregiver.models import Caregiver
from caregiver.tokens import preferences_token
from content.models import Tip
from content.validation import TIP_SMS_FEEDBACK, sms_size
from messaging import discretion, feedback, planning, rendering
from messaging.models import InboundMessage, OutboundMessage, TipResponse
from tests import factories
from tests.messaging.texting import text

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("twilio_token")]
MORNING_NY = "2026-12-08 14:00Z"  # 9:00 in New York: the day's tip is planned for 10:00


def after(hours: float):
    """The clock `hours` after the morning the tips went out."""
    return time_machine.travel(datetime(2026, 12, 8, 14, tzinfo=UTC) + timedelta(hours=hours), tick=False)


def plan_tips(caregiver, channel):
    Caregiver.objects.filter(pk=caregiver.pk).update(tip_frequency="daily")
    with time_machine.travel(MORNING_NY, tick=False):
        planning.caregiver_plan_sync(caregiver_id=caregiver.pk, now=timezone.now())
    message = OutboundMessage.objects.filter(caregiver=caregiver, kind="tip", channel=channel).earliest("send_at")
    assert message.tip is not None
    return message


def sent(message, at=MORNING_NY):
    with time_machine.travel(at, tick=False):
        OutboundMessage.objects.filter(pk=message.pk).update(status="sent", sent_at=timezone.now(), to=message.to)
    message.refresh_from_db()
    return message


@pytest.fixture
def tip_email(family):
    caregiver, _ = family(channels="email")
    message = plan_tips(caregiver, "email")
    message.to = caregiver.email
    return sent(message)


def links(message):
    found = dict(re.findall(r"(Yes, it helped|Not for me): (\S+)", message.body))
    return {
        "helpful": found["Yes, it helped"].removeprefix("http://localhost:8000"),
        "not_for_me": found["Not for me"].removeprefix("http://localhost:8000"),
    }


def answers():
    return list(TipResponse.objects.values_list("value", "channel"))


# --- Email: the links -------------------------------------------------------------------------


def test_a_planned_tip_email_asks_in_both_parts_with_two_signed_links(tip_email):
    assert "Was this helpful?" in tip_email.body
    assert "Was this helpful?" in tip_email.html
    for path in links(tip_email).values():
        assert path.startswith("/tip/")
        assert f'href="http://localhost:8000{path}"' in tip_email.html
    # The question and its answers say nothing of what the care is.
    assert discretion.problem(feedback.feedback_text(tip_email.dedupe_key)) == ""


def test_staff_never_see_the_links_secret(tip_email):
    for path in links(tip_email).values():
        assert path not in rendering.mask_links(tip_email.body)


def test_reminder_emails_do_not_ask(family, infusion):
    caregiver, loved_one = family(channels="email")
    infusion(loved_one, "2026-12-09 10:00")
    with time_machine.travel(MORNING_NY, tick=False):
        planning.caregiver_plan_sync(caregiver_id=caregiver.pk, now=timezone.now())
    reminder = OutboundMessage.objects.filter(caregiver=caregiver, kind="reminder").first()
    assert reminder is not None
    assert "Was this helpful?" not in reminder.body


def test_one_click_records_the_answer_and_offers_the_other(client, tip_email):
    page = client.get(links(tip_email)["helpful"])
    assert page.status_code == 200
    content = page.content.decode()
    assert "You told us this tip helped." in content
    assert escape(tip_email.tip.title) in content
    assert "Not for me</button>" in content
    assert "style=" not in content  # the site's strict CSP: no inline styles
    response = TipResponse.objects.get()
    assert (response.value, response.channel, response.tip, response.caregiver) == (
        "helpful", "email", tip_email.tip, tip_email.caregiver,
    )  # fmt: skip
    assert response.clinic == tip_email.caregiver.clinic


def test_the_latest_answer_is_kept(client, tip_email):
    client.get(links(tip_email)["helpful"])
    with after(2):
        client.get(links(tip_email)["not_for_me"])
    assert answers() == [("not_for_me", "email")]


def test_changing_the_answer_from_the_page(client, tip_email):
    client.get(links(tip_email)["helpful"])
    page = client.post(links(tip_email)["helpful"], {"value": "not_for_me"})
    assert "You told us this tip was not for you." in page.content.decode()
    assert answers() == [("not_for_me", "email")]


def test_a_mail_scanner_opening_both_links_leaves_no_answer_and_the_page_asks(client, tip_email):
    client.get(links(tip_email)["helpful"])
    page = client.get(links(tip_email)["not_for_me"])  # a second later: no person does that
    assert answers() == []
    content = page.content.decode()
    assert "<h1>Was this helpful?</h1>" in content
    assert "Yes, it helped</button>" in content
    client.post(links(tip_email)["not_for_me"], {"value": "helpful"})
    assert answers() == [("helpful", "email")]


def test_a_head_request_records_nothing(client, tip_email):
    assert client.head(links(tip_email)["helpful"]).status_code == 200
    assert answers() == []


@pytest.mark.parametrize(
    "mangle",
    [lambda path: path[:-6] + "xxxxx/", lambda path: "/tip/not-a-token/", lambda path: "/tip/" + "A" * 300 + "/"],
)
def test_a_forged_link_is_a_clear_404(client, tip_email, mangle):
    page = client.get(mangle(links(tip_email)["helpful"]))
    assert page.status_code == 404
    assert "This link doesn't work" in page.content.decode()
    assert answers() == []


def test_a_token_signed_for_another_link_is_refused(client, tip_email):
    borrowed = preferences_token(tip_email.caregiver_id, address=tip_email.to)
    assert client.get(f"/tip/{borrowed}/").status_code == 404
    assert answers() == []


def test_a_link_over_30_days_old_is_a_clear_404(client, tip_email):
    with after(31 * 24):
        page = client.get(links(tip_email)["helpful"])
    assert page.status_code == 404
    assert "more than 30 days old" in page.content.decode()


def test_a_link_to_a_message_that_never_went_out_is_a_404(client, tip_email):
    OutboundMessage.objects.filter(pk=tip_email.pk).update(status="cancelled")
    assert client.get(links(tip_email)["helpful"]).status_code == 404
    assert answers() == []


def test_a_posted_answer_that_is_no_answer_says_so(client, tip_email):
    page = client.post(links(tip_email)["helpful"], {"value": "maybe"})
    assert page.status_code == 400
    assert "Choose one of the two answers." in page.content.decode()
    assert answers() == []


# --- Text: a 1 or a 2 -----------------------------------------------------------------------------


@pytest.fixture
def tip_text(caregiver):
    def make(at=MORNING_NY, body=None, tip=None):
        tip = tip or Tip.objects.order_by("pk").first()
        message = factories.OutboundMessageFactory(
            caregiver=caregiver, kind="tip", tip=tip, to=caregiver.phone,
            body=body or rendering.SMS_PREFIX + tip.sms_body + TIP_SMS_FEEDBACK,
        )  # fmt: skip
        return sent(message, at)

    return make


def test_a_planned_tip_text_asks_for_1_or_2_within_two_segments(family):
    caregiver, _ = family(channels="sms")
    message = plan_tips(caregiver, "sms")
    assert message.body.endswith("\nReply 1 if this helped, 2 if not.")
    assert sms_size(message.body).segments <= 2


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("1", "helpful"),
        (" 2 ", "not_for_me"),
        ("1.", "helpful"),
        ("2!", "not_for_me"),
        ("#1", "helpful"),
        ("2!!", "not_for_me"),
        ("1\ufe0f\u20e3", "helpful"),
        ("1 👍", "helpful"),
        ("2 🙁", "not_for_me"),
    ],
)
def test_a_1_or_2_within_a_day_answers_the_tip_and_is_thanked(client, caregiver, tip_text, reply, value):
    tip = tip_text()
    with after(5):
        answer = text(client, caregiver, reply).content.decode()
    assert ("glad that one helped" in answer) == (value == "helpful")
    assert "Thanks" in answer
    assert InboundMessage.objects.get().action == "tip_response"
    response = TipResponse.objects.get()
    assert (response.message, response.value, response.channel) == (tip, value, "sms")


def test_a_second_reply_changes_the_answer(client, caregiver, tip_text):
    tip_text()
    with after(1):
        text(client, caregiver, "1")
        text(client, caregiver, "2")
    assert answers() == [("not_for_me", "sms")]


def test_the_latest_tip_is_the_one_answered(client, caregiver, tip_text):
    tip_text(at="2026-12-07 15:00Z")
    latest = tip_text(at="2026-12-08 15:00Z", tip=Tip.objects.order_by("pk")[1])
    with time_machine.travel("2026-12-08 16:00Z", tick=False):
        text(client, caregiver, "1")
    assert TipResponse.objects.get().message == latest


def test_a_1_more_than_a_day_after_the_tip_gets_the_usual_auto_reply(client, caregiver, tip_text):
    tip_text()
    with after(25):
        answer = text(client, caregiver, "1").content.decode()
    assert "911" in answer
    assert InboundMessage.objects.get().action == "stored"
    assert answers() == []


def test_a_1_with_no_tip_gets_the_usual_auto_reply(client, caregiver):
    assert "911" in text(client, caregiver, "1").content.decode()
    assert answers() == []


def test_a_text_that_only_said_the_tip_was_in_the_email_is_not_answered(client, caregiver, tip_text):
    tip_text(body="Alongside: Today's tip is about looking out for each other, and it's in your email.")
    with after(1):
        text(client, caregiver, "1")
    assert answers() == []


@pytest.mark.parametrize("reply", ["12", "1 thanks", "11", "one", "1 or 2?", "21", "1.5"])
def test_only_a_bare_1_or_2_is_an_answer(client, caregiver, tip_text, reply):
    tip_text()
    with after(1):
        text(client, caregiver, reply)
    assert answers() == []


def test_stop_after_a_tip_is_still_an_opt_out(client, caregiver, tip_text):
    tip_text()
    with after(1):
        text(client, caregiver, "STOP")
    assert InboundMessage.objects.get().action == "opt_out"
    assert answers() == []


def test_a_number_that_is_no_longer_theirs_answers_nothing(client, caregiver, tip_text):
    tip = tip_text()
    OutboundMessage.objects.filter(pk=tip.pk).update(to="+12025559999")
    with after(1):
        text(client, caregiver, "1")
    assert answers() == []
