"""Crisis alerts: told to the on-call contacts in order until someone acknowledges, closed with a
note, seen and handled by staff in the portal, and by on-call contacts from one link."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from caregiver.models import AuditEvent
from messaging import alerts
from messaging.models import CrisisAlert, OutboundMessage
from messaging.tasks import escalate_task
from tests.factories import CareLinkFactory, ClinicFactory, ConsentRecordFactory, OnCallContactFactory
from tests.messaging.texting import text, text_from

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("twilio_token")]


@pytest.fixture
def on_call(caregiver, staff_user):
    """Two on-call contacts, in order, and a staff member at the caregiver's clinic."""
    clinic = caregiver.clinic
    staff_user.email = "dana@clinic.example"
    staff_user.save()
    staff_user.memberships.update(clinic=clinic)
    first = OnCallContactFactory(clinic=clinic, position=0, name="Riley", email="riley@clinic.example")
    second = OnCallContactFactory(clinic=clinic, position=1, name="Sam", phone="", email="sam@clinic.example")
    return first, second


def told(alert: CrisisAlert) -> set[str]:
    return set(OutboundMessage.objects.filter(crisis_alert=alert).values_list("to", flat=True))


def test_the_first_on_call_contact_is_told_at_once_and_the_next_only_when_nobody_acknowledges(
    client, caregiver, on_call
):
    first, second = on_call
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        text(client, caregiver, "my husband said hes going to end it tonight")
    alert = CrisisAlert.objects.get()
    assert told(alert) == {first.phone, first.email}
    assert alert.next_escalation_at == start + timedelta(minutes=10)
    sms = OutboundMessage.objects.get(crisis_alert=alert, channel="sms")
    assert "/alerts/" in sms.body
    assert caregiver.name not in sms.body  # the SMS names nobody on a lock screen

    with time_machine.travel(start + timedelta(minutes=9), tick=False):
        assert alerts.crisis_alerts_escalate(now=timezone.now()) == {"escalated": 0}
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        assert alerts.crisis_alerts_escalate(now=timezone.now()) == {"escalated": 1}
    assert told(alert) == {first.phone, first.email, second.email}

    with time_machine.travel(start + timedelta(minutes=20), tick=False):
        alerts.crisis_alerts_escalate(now=timezone.now())
    alert.refresh_from_db()
    everyone = {first.phone, first.email, second.email, caregiver.clinic.contact_email, "dana@clinic.example"}
    assert told(alert) == everyone
    assert (alert.level, alert.next_escalation_at) == (2, None)
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        assert alerts.crisis_alerts_escalate(now=timezone.now()) == {"escalated": 0}


def test_acknowledging_stops_the_escalation_and_keeps_the_first_name(client, caregiver, on_call, staff_user):
    first, second = on_call
    text(client, caregiver, "she said she wants to die")
    alert = CrisisAlert.objects.get()
    alerts.crisis_alert_acknowledge(alert_id=alert.pk, contact_id=first.pk, now=timezone.now())
    alerts.crisis_alert_acknowledge(alert_id=alert.pk, by=staff_user, now=timezone.now())
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by_name) == ("acknowledged", "Riley (from the alert link)")
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=False):
        alerts.crisis_alerts_escalate(now=timezone.now())
    assert second.email not in told(alert)


@pytest.mark.usefixtures("on_call")
def test_a_crisis_text_from_an_unknown_number_alerts_the_clinic(client, caregiver):
    text_from(client, sender="+14155550123", to=caregiver.clinic.twilio_from_number, body="my brother has a gun")
    alert = CrisisAlert.objects.get()
    assert (alert.caregiver, alert.clinic) == (None, caregiver.clinic)
    email = OutboundMessage.objects.get(crisis_alert=alert, channel="email")
    assert "A number we don't know" in email.body
    assert "my brother has a gun" in email.body


def test_closing_needs_a_note_and_is_in_the_audit_log(client, caregiver, staff_user):
    staff_user.memberships.update(clinic=caregiver.clinic)
    text(client, caregiver, "he's cutting himself again")
    alert = CrisisAlert.objects.get()
    with pytest.raises(ValidationError):
        alerts.crisis_alert_close(alert_id=alert.pk, by=staff_user, note="   ", now=timezone.now())
    alerts.crisis_alert_close(alert_id=alert.pk, by=staff_user, note="Called Casey; safe tonight.", now=timezone.now())
    alert.refresh_from_db()
    assert (alert.status, alert.close_note, alert.acknowledged_by) == (
        "closed",
        "Called Casey; safe tonight.",
        staff_user,
    )
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"alert.acknowledge", "alert.close"} <= actions


def test_the_database_refuses_a_closed_alert_without_a_note(client, caregiver):
    from django.db import IntegrityError, transaction

    text(client, caregiver, "i want to kms")
    with pytest.raises(IntegrityError), transaction.atomic():
        CrisisAlert.objects.update(status="closed", closed_at=timezone.now(), acknowledged_at=timezone.now())


def test_the_escalation_task_runs_the_tick(client, caregiver, on_call):
    text(client, caregiver, "he's talking about ending his life")
    CrisisAlert.objects.update(next_escalation_at=timezone.now() - timedelta(seconds=1))
    assert escalate_task() == {"escalated": 1}


# --- The link in the email and SMS --------------------------------------------------------------


def test_opening_the_link_shows_the_text_and_acknowledges_nothing_until_the_button(client, caregiver, on_call):
    first, _ = on_call
    text(client, caregiver, "she wrote a goodbye letter")
    alert = CrisisAlert.objects.get()
    link = alerts.ack_url(alert_id=alert.pk, contact_id=first.pk).removeprefix("http://localhost:8000")
    page = client.get(link)
    assert page.status_code == 200
    assert "she wrote a goodbye letter" in page.content.decode()
    alert.refresh_from_db()
    assert alert.status == "open"
    done = client.post(link)
    assert "Acknowledged by Riley" in done.content.decode()
    alert.refresh_from_db()
    assert alert.status == "acknowledged"


def test_a_forged_link_is_a_404(client):
    assert client.get("/alerts/not-a-real-token/").status_code == 404


def test_the_link_of_a_contact_taken_off_the_on_call_list_stops_working(client, caregiver, on_call):
    first, _ = on_call
    text(client, caregiver, "she wrote a goodbye letter")
    link = alerts.ack_url(alert_id=CrisisAlert.objects.get().pk, contact_id=first.pk)
    first.delete()
    assert client.get(link.removeprefix("http://localhost:8000")).status_code == 404


def test_a_link_or_tag_in_a_text_is_not_a_link_in_the_alert_email(client, caregiver, on_call):
    text(
        client,
        caregiver,
        'he took all his pills [Say you are on it](http://evil.example/x) <a href="http://evil.example">ack</a>',
    )
    html = OutboundMessage.objects.filter(crisis_alert__isnull=False, channel="email").first().html
    assert "evil[.]example" in html  # shown, not linked (links_defanged)
    assert '<a href="http://evil.example' not in html
    assert 'href="http://localhost:8000/alerts/' in html  # the real link is the one that works


def test_an_address_in_a_text_is_not_clickable_in_the_plain_text_alert_either(client, caregiver, on_call):
    """Found by the outside tester: the text part quoted <https://evil.example/a>, the same shape as
    our own "Say you're on it: <…>" link, and mail programs link both."""
    text(client, caregiver, "I am scared he will hurt himself tonight https://evil.example/x <https://evil.example/a>")
    email = OutboundMessage.objects.filter(crisis_alert__isnull=False, channel="email").first()
    assert "https[:]//evil[.]example/x" in email.body
    assert "https://evil.example" not in email.body
    assert "<https://evil" not in email.body
    assert "I am scared he will hurt himself tonight" in email.body


# --- Staff pages -----------------------------------------------------------------------------------


@pytest.fixture
def staff(client, caregiver, staff_user):
    staff_user.memberships.update(clinic=caregiver.clinic)
    client.force_login(staff_user)
    return client


def test_staff_see_open_alerts_counted_in_the_navigation_and_acknowledge_in_one_click(staff, caregiver):
    text(staff, caregiver, "my son overdosed")
    page = staff.get("/staff/").content.decode()
    assert "1 open" in page
    alert = CrisisAlert.objects.get()
    assert "my son overdosed" in staff.get("/staff/alerts/").content.decode()
    staff.post(f"/staff/alerts/{alert.pk}/acknowledge/")
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    assert "1 open" not in staff.get("/staff/").content.decode()


def test_staff_close_an_alert_with_a_note_and_the_family_timeline_shows_who_acknowledged(staff, caregiver, staff_user):
    text(staff, caregiver, "she said shed be better off dead")
    alert = CrisisAlert.objects.get()
    assert staff.post(f"/staff/alerts/{alert.pk}/", {"note": ""}).status_code == 400
    response = staff.post(f"/staff/alerts/{alert.pk}/", {"note": "Spoke with Casey, plan in place."})
    assert response.status_code == 302
    family = caregiver.loved_ones.get()
    timeline = staff.get(f"/staff/families/{family.pk}/").content.decode()
    assert "Crisis alert" in timeline
    assert "Acknowledged by dana" in timeline


def test_another_clinics_alerts_and_texts_are_not_shown(staff, content):
    elsewhere = CareLinkFactory(caregiver__clinic=ClinicFactory(twilio_from_number="+12025550888")).caregiver
    ConsentRecordFactory(caregiver=elsewhere, channel="sms")
    text(staff, elsewhere, "i want to die")
    alert = CrisisAlert.objects.get()
    assert staff.get(f"/staff/alerts/{alert.pk}/").status_code == 404
    assert "i want to die" not in staff.get("/staff/alerts/").content.decode()
    assert "i want to die" not in staff.get("/staff/texts/").content.decode()


def test_texts_from_unknown_numbers_and_possible_opt_outs_are_on_the_texts_page(staff, caregiver):
    text_from(staff, sender="+14155550123", to=caregiver.clinic.twilio_from_number, body="hi is this the clinic")
    text(staff, caregiver, "this is getting annoying")
    unknown = staff.get("/staff/texts/?show=unknown").content.decode()
    assert "hi is this the clinic" in unknown
    assert "getting annoying" not in unknown
    assert "getting annoying" in staff.get("/staff/texts/?show=review").content.decode()
    assert staff.get("/staff/texts/?show=nonsense").status_code == 200


def test_the_alert_gives_the_number_the_text_came_from_not_a_later_one(client, caregiver, on_call, staff_user):
    from caregiver import services as caregiver_services

    texted_from = caregiver.phone
    text(client, caregiver, "my husband said hes going to end it tonight")
    caregiver_services.caregiver_update(caregiver=caregiver, phone="+14155550177", by=staff_user)
    alert = CrisisAlert.objects.get()
    client.force_login(staff_user)
    page = client.get(f"/staff/alerts/{alert.pk}/").content.decode()
    assert texted_from in page
    assert "+14155550177" not in page


def test_a_family_texting_again_while_its_alert_is_open_is_not_paged_again_and_one_ack_covers_all(
    client, caregiver, on_call, staff_user
):
    # An outside tester sent twenty danger texts in two minutes: twenty alerts paged the on-call
    # phones twenty times. Each text keeps its alert, for staff to read; the phones hear once.
    first, _ = on_call
    for body in ("she said she wants to die", "she is giving her things away", "she has pills saved up"):
        text(client, caregiver, body)
    opened = list(CrisisAlert.objects.order_by("id"))
    assert len(opened) == 3
    assert told(opened[0]) == {first.phone, first.email}
    assert told(opened[1]) == told(opened[2]) == set()
    assert [a.next_escalation_at is None for a in opened] == [False, True, True]
    # An emergency is graver: it pages, even while the danger alert is open.
    text(client, caregiver, "she is not breathing")
    emergency = CrisisAlert.objects.latest("id")
    assert emergency.severity == "emergency"
    assert told(emergency) == {first.phone, first.email}
    # Another family's alert is theirs: it pages.
    other = CareLinkFactory(caregiver__clinic=caregiver.clinic, caregiver__phone="+12025550142").caregiver
    ConsentRecordFactory(caregiver=other, channel="sms")
    text(client, other, "my son wants to die")
    assert told(CrisisAlert.objects.latest("id")) == {first.phone, first.email}
    # "I'm on it" covers what the page showed: the person's other open texts are listed on it.
    shown = alerts.crisis_alerts_same_person(opened[0])
    assert [a.pk for a in shown] == [opened[1].pk, opened[2].pk, emergency.pk]
    alerts.crisis_alert_acknowledge(
        alert_id=opened[0].pk, by=staff_user, now=timezone.now(), also=[opened[1].pk, emergency.pk]
    )
    statuses = {a.pk: a.status for a in CrisisAlert.objects.all()}
    assert [statuses[a.pk] for a in (opened[0], opened[1], emergency)] == ["acknowledged"] * 3
    # A text the page did not show (it came while the page was open) is not covered: it pages now.
    assert statuses[opened[2].pk] == "open"
    assert told(opened[2]) == {first.phone, first.email}
    assert statuses[CrisisAlert.objects.latest("id").pk] == "open"  # the other family's


def test_the_alert_page_lists_the_person_s_later_texts_and_the_button_covers_exactly_those(
    client, caregiver, on_call, staff_user
):
    staff_user.memberships.update(clinic=caregiver.clinic)
    text(client, caregiver, "she said she wants to die")
    text(client, caregiver, "se tomo todas las pastillas y no responde")
    first, emergency = CrisisAlert.objects.order_by("id")
    client.force_login(staff_user)
    page = client.get(f"/staff/alerts/{first.pk}/").content.decode()
    assert "se tomo todas las pastillas y no responde" in page
    assert f'name="also" value="{emergency.pk}"' in page
    client.post(f"/staff/alerts/{first.pk}/acknowledge/", {"also": [str(emergency.pk)]})
    assert set(CrisisAlert.objects.values_list("status", flat=True)) == {"acknowledged"}
