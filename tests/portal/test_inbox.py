"""The inbox pages and the inbox in the staff API, as a coordinator uses them."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from caregiver.models import AuditEvent
from messaging.inbound import inbound_receive
from messaging.models import Conversation, CrisisAlert, OutboundMessage, SavedReply
from tests import factories
from tests.clients import token_client
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db
STRANGER = "+14155550123"
sids = iter(range(10_000, 99_999))


def receive(clinic, sender, body):
    inbound_receive(
        message_sid=f"SM{next(sids):032d}", from_number=sender, to_number=clinic.twilio_from_number, body=body
    )


@pytest.fixture
def family(content, clinic):
    link = factories.CareLinkFactory(caregiver__clinic=clinic, caregiver__name="Casey Rivera", loved_one__clinic=clinic)
    factories.ConsentRecordFactory(caregiver=link.caregiver, channel="sms")
    return link.caregiver


@pytest.fixture
def asked(family):
    receive(family.clinic, family.phone, "hey what time should we get there thurs? and can i wait inside")
    return Conversation.objects.get(caregiver=family)


def test_the_navigation_counts_what_waits_and_the_inbox_lists_it(staff_client, asked):
    page = staff_client.get("/staff/inbox/")
    assert page.status_code == 200
    words = text(page)
    assert "Inbox 1" in words
    assert "Casey Rivera" in words
    assert "can i wait inside" in words


def test_a_coordinator_assigns_replies_and_handles(staff_client, staff_user, asked, django_capture_on_commit_callbacks):
    page = staff_client.get(f"/staff/inbox/{asked.pk}/")
    assert "can i wait inside" in text(page)
    staff_client.post(f"/staff/inbox/{asked.pk}/assign/", {"assigned_to": "me"})
    asked.refresh_from_db()
    assert (asked.status, asked.assigned_to) == ("assigned", staff_user)
    key = page.context["form"].initial["key"]
    response = staff_client.post(
        f"/staff/inbox/{asked.pk}/",
        {
            "text": "Hi Casey, 10:15 please. Yes you can wait in the lounge.",
            "channel": "sms",
            "key": key,
            "send_and_handle": "1",
        },
    )
    assert response.status_code == 302
    reply = OutboundMessage.objects.get(kind="reply", sent_by=staff_user)
    assert reply.body.endswith("Yes you can wait in the lounge.")
    again = staff_client.post(
        f"/staff/inbox/{asked.pk}/",
        {"text": "Hi Casey, 10:15 please. Yes you can wait in the lounge.", "channel": "sms", "key": key},
    )
    assert again.status_code == 302
    assert OutboundMessage.objects.filter(kind="reply", sent_by=staff_user).count() == 1  # a double submit
    asked.refresh_from_db()
    assert asked.status == "handled"
    assert "Inbox 1" not in text(staff_client.get("/staff/inbox/"))
    thread = text(staff_client.get(f"/staff/inbox/{asked.pk}/"))
    assert "dana replied" in thread
    assert "wait in the lounge" in thread


def test_a_reply_naming_the_treatment_comes_back_with_the_words_kept_and_the_reason(staff_client, asked):
    response = staff_client.post(f"/staff/inbox/{asked.pk}/", {"text": "Her esketamine dose is at 10", "key": "x1"})
    assert response.status_code == 400
    assert "lock screen" in text(response)
    assert "Her esketamine dose is at 10" in response.content.decode()
    assert not OutboundMessage.objects.filter(kind="reply", sent_by__isnull=False).exists()


@pytest.mark.parametrize("bad", [{"text": ""}, {"text": "hi", "channel": "carrier-pigeon"}, {}])
def test_bad_replies_are_a_400_with_the_reason_never_a_500(staff_client, asked, bad):
    response = staff_client.post(f"/staff/inbox/{asked.pk}/", bad)
    assert response.status_code == 400


def test_an_opted_out_caregiver_has_no_reply_box_and_says_why(staff_client, asked, family):
    receive(family.clinic, family.phone, "STOP")
    page = text(staff_client.get(f"/staff/inbox/{asked.pk}/"))
    assert "opted out of texts" in page
    assert "Your reply" not in page


def test_assigning_to_someone_at_another_clinic_is_refused(staff_client, asked):
    outsider = get_user_model().objects.create_user(username="eve", password="x" * 20)
    factories.StaffMembershipFactory(user=outsider, clinic=factories.ClinicFactory())
    staff_client.post(f"/staff/inbox/{asked.pk}/assign/", {"assigned_to": str(outsider.pk)})
    asked.refresh_from_db()
    assert asked.assigned_to is None
    staff_client.post(f"/staff/inbox/{asked.pk}/assign/", {"assigned_to": "'; drop table"})
    asked.refresh_from_db()
    assert asked.assigned_to is None


def test_another_clinics_conversation_is_a_404(staff_client, content):
    elsewhere = factories.ClinicFactory()
    receive(elsewhere, STRANGER, "hello")
    conversation = Conversation.objects.get()
    assert staff_client.get(f"/staff/inbox/{conversation.pk}/").status_code == 404
    assert staff_client.post(f"/staff/inbox/{conversation.pk}/", {"text": "hi"}).status_code == 404
    assert staff_client.post(f"/staff/inbox/{conversation.pk}/handle/").status_code == 404


def test_an_open_crisis_alert_is_pinned_on_top_until_closed(staff_client, family):
    receive(family.clinic, family.phone, "i think he took all of his pills, he wont wake up")
    page = text(staff_client.get("/staff/inbox/?show=handled"))
    assert "Crisis alert, not acknowledged" in page
    alert = CrisisAlert.objects.get()
    staff_client.post(f"/staff/alerts/{alert.pk}/acknowledge/")
    assert "Acknowledged by dana, not closed" in text(staff_client.get("/staff/inbox/"))


def test_saved_replies_are_kept_per_clinic_and_fill_the_reply_box(staff_client, asked):
    response = staff_client.post(
        "/staff/inbox/saved-replies/", {"title": "Call back", "body": "Thanks for your text. We'll call you today."}
    )
    assert response.status_code == 302
    saved = SavedReply.objects.get()
    assert saved.clinic == asked.clinic
    page = staff_client.get(f"/staff/inbox/{asked.pk}/?saved={saved.pk}")
    assert "We&#x27;ll call you today." in page.content.decode() or "We'll call you today." in page.content.decode()
    duplicate = staff_client.post("/staff/inbox/saved-replies/", {"title": "call back", "body": "again"})
    assert duplicate.status_code == 400
    revealing = staff_client.post(
        "/staff/inbox/saved-replies/", {"title": "Dose", "body": "Your ketamine dose is ready"}
    )
    assert revealing.status_code == 400
    staff_client.post(f"/staff/inbox/saved-replies/{saved.pk}/", {"delete": "1"})
    assert not SavedReply.objects.exists()
    assert AuditEvent.objects.filter(action="inbox.saved_reply").count() == 2


def test_write_to_them_starts_a_conversation_with_an_email_only_caregiver(staff_client, clinic, content):
    email_only = factories.CaregiverFactory(clinic=clinic, phone="", email="pat@example.com", channels="email")
    factories.ConsentRecordFactory(caregiver=email_only, channel="email")
    response = staff_client.post(f"/staff/caregivers/{email_only.pk}/message/")
    conversation = Conversation.objects.get(caregiver=email_only)
    assert response["Location"] == f"/staff/inbox/{conversation.pk}/"
    assert conversation.status == "handled"  # nothing waits until someone writes
    staff_client.post(f"/staff/inbox/{conversation.pk}/", {"text": "How did the first week go?", "key": "k"})
    assert OutboundMessage.objects.get(kind="reply").channel == "email"


# --- The API --------------------------------------------------------------------------------------


@pytest.fixture
def api(staff_user) -> APIClient:
    return token_client(staff_user)


def test_the_api_lists_shows_replies_assigns_and_handles(api, staff_user, asked):
    listed = api.get("/api/v1/conversations/").json()
    assert [row["id"] for row in listed["results"]] == [asked.pk]
    detail = api.get(f"/api/v1/conversations/{asked.pk}/").json()
    assert detail["reply_channels"] == {"sms": "", "email": "Casey Rivera has not said yes to email yet."}
    assert detail["thread"][0]["incoming"] is True
    sent = api.post(f"/api/v1/conversations/{asked.pk}/reply/", {"text": "10:15, see you then."}, format="json")
    assert sent.status_code == 201
    assert sent.json()["kind"] == "reply"
    assigned = api.post(f"/api/v1/conversations/{asked.pk}/assign/", {"assigned_to": None}, format="json").json()
    assert (assigned["status"], assigned["assigned_to"]) == ("open", None)
    handled = api.post(f"/api/v1/conversations/{asked.pk}/handle/").json()
    assert handled["status"] == "handled"
    assert api.get("/api/v1/conversations/?show=handled").json()["count"] == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("reply/", {"text": ""}),
        ("reply/", {"text": "about the ketamine"}),
        ("reply/", {"text": "hi", "channel": "fax"}),
        ("assign/", {"assigned_to": 999999}),
        ("assign/", {"assigned_to": "me"}),
    ],
)
def test_the_api_says_what_is_wrong_with_a_400(api, asked, path, body):
    response = api.post(f"/api/v1/conversations/{asked.pk}/{path}", body, format="json")
    assert response.status_code == 400, response.content


def test_the_api_hides_other_clinics_conversations(api, content):
    elsewhere = factories.ClinicFactory()
    receive(elsewhere, STRANGER, "hello")
    conversation = Conversation.objects.get()
    assert api.get(f"/api/v1/conversations/{conversation.pk}/").status_code == 404
    assert api.get("/api/v1/conversations/?show=all").json()["count"] == 0
    assert api.get("/api/v1/conversations/?show=bogus").status_code == 400
