"""The staff pages for fixing a family: edit or add a caregiver, rides, archive, merge, new
sign-ups, the families filters, and links masked wherever staff read a message."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from caregiver import services
from caregiver.models import Appointment, Caregiver, LovedOne
from messaging.models import InboundMessage, OutboundMessage
from tests import factories
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN = "eyJjIjoxMjN9:1vQx3a:Zk3u0pQ1lC5yq2xVb8nTtW9sJd"


@pytest.fixture
def family(clinic, content):
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    caregiver = factories.CaregiverFactory(clinic=clinic, name="Jordan Rivera", phone="+12025550143")
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    factories.ConsentRecordFactory(caregiver=caregiver, channel="sms")
    return loved_one


@pytest.fixture
def other_family(other_clinic):
    loved_one = factories.LovedOneFactory(clinic=other_clinic, first_name="Zed")
    caregiver = factories.CaregiverFactory(clinic=other_clinic, name="Other Person")
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    factories.AppointmentFactory(loved_one=loved_one)
    return loved_one


def test_another_clinics_family_caregiver_and_appointment_are_404_on_every_new_page(staff_client, other_family):
    caregiver = other_family.caregivers.get()
    appointment = other_family.appointments.get()
    pk = other_family.pk
    for path in (f"/staff/caregivers/{caregiver.pk}/edit/", f"/staff/families/{pk}/caregivers/new/",
                 f"/staff/families/{pk}/archive/", f"/staff/families/{pk}/merge/",
                 f"/staff/families/{pk}/rename/"):  # fmt: skip
        assert staff_client.get(path).status_code == 404, path
    assert staff_client.post(f"/staff/caregivers/{caregiver.pk}/edit/", {"name": "X"}).status_code == 404
    assert staff_client.post(f"/staff/appointments/{appointment.pk}/ride/", {"action": "mark"}).status_code == 404
    assert staff_client.post(f"/staff/families/{pk}/archive/", {"reason": "bereavement"}).status_code == 404
    assert staff_client.post(f"/staff/families/{pk}/restore/").status_code == 404
    assert staff_client.post(f"/staff/families/{pk}/rename/", {"first_name": "Mine"}).status_code == 404
    other_family.refresh_from_db()
    assert other_family.archived_at is None
    assert other_family.first_name == "Zed"
    appointment.refresh_from_db()
    assert not appointment.ride_arranged


def test_staff_edit_a_caregivers_name_and_number_and_see_it_waiting_for_yes(staff_client, family):
    caregiver = family.caregivers.get()
    page = text(staff_client.get(f"/staff/caregivers/{caregiver.pk}/edit/"))
    assert "Edit Jordan Rivera" in page
    form = {"name": "Jordan Lee", "phone": "(202) 555-0177", "email": "", "channels": "sms", "language": "en"}
    response = staff_client.post(f"/staff/caregivers/{caregiver.pk}/edit/", form, follow=True)
    page = text(response)
    assert "Saved Jordan Lee's details" in page
    assert "Jordan Lee" in page
    assert "+12025550177" in page
    assert "Waiting for confirmation" in page
    assert "Changed a caregiver's details" in page


def test_staff_correct_the_loved_ones_name_from_the_family_page(staff_client, family):
    assert "Correct the name" in text(staff_client.get(f"/staff/families/{family.pk}/"))
    path = f"/staff/families/{family.pk}/rename/"
    refused = staff_client.post(path, {"first_name": "Alex - ketamine"})
    assert refused.status_code == 400
    assert "first_name" not in text(refused)  # a sentence for staff, not a field's code name
    page = text(staff_client.post(path, {"first_name": "Alexis"}, follow=True))
    assert "Messages still to come call them Alexis." in page
    assert "Corrected the loved one's name" in page
    family.refresh_from_db()
    assert family.first_name == "Alexis"


def test_a_bad_number_or_a_missing_email_says_what_to_fix(staff_client, family):
    caregiver = family.caregivers.get()
    form = {"name": "Jordan Rivera", "phone": "12", "email": "", "channels": "both", "language": "en"}
    response = staff_client.post(f"/staff/caregivers/{caregiver.pk}/edit/", form)
    assert response.status_code == 400
    page = text(response)
    assert "Enter an email address for emails" in page
    caregiver.refresh_from_db()
    assert caregiver.phone == "+12025550143"


def test_staff_add_a_caregiver_to_a_family(staff_client, family):
    form = {"name": "Casey Rivera", "relationship": "sibling", "phone": "202-555-0190", "email": "", "channels": "sms"}
    response = staff_client.post(f"/staff/families/{family.pk}/caregivers/new/", form, follow=True)
    page = text(response)
    assert "Casey Rivera is added to Alex's family and asked to confirm" in page
    casey = family.caregivers.get(name="Casey Rivera")
    assert casey.status == Caregiver.Status.PENDING
    assert OutboundMessage.objects.filter(caregiver=casey, kind="confirmation").exists()
    response = staff_client.post(f"/staff/families/{family.pk}/caregivers/new/", {**form, "phone": "", "name": ""})
    assert response.status_code == 400
    assert "This field is required" in text(response)


def test_staff_mark_and_unmark_the_ride_home_from_the_family_page(staff_client, family, staff_user):
    appointment = factories.AppointmentFactory(loved_one=family)
    page = text(staff_client.get(f"/staff/families/{family.pk}/"))
    assert "Mark arranged" in page
    response = staff_client.post(f"/staff/appointments/{appointment.pk}/ride/", {"action": "mark"}, follow=True)
    assert "The ride home is marked as arranged" in text(response)
    appointment.refresh_from_db()
    assert appointment.ride_arranged_by_user == staff_user
    assert "Not arranged after all" in text(response)
    staff_client.post(f"/staff/appointments/{appointment.pk}/ride/", {"action": "unmark"})
    appointment.refresh_from_db()
    assert not appointment.ride_arranged
    assert staff_client.post(f"/staff/appointments/{appointment.pk}/ride/", {"action": "?"}).status_code == 400


def test_archive_asks_why_then_hides_the_family_but_the_archived_filter_finds_it(staff_client, family):
    appointment = factories.AppointmentFactory(loved_one=family)
    page = text(staff_client.get(f"/staff/families/{family.pk}/archive/"))
    assert "1 upcoming appointment is cancelled, without telling the family" in page
    response = staff_client.post(f"/staff/families/{family.pk}/archive/", {})
    assert response.status_code == 400
    assert "Choose why the family is archived." in text(response)
    response = staff_client.post(f"/staff/families/{family.pk}/archive/", {"reason": "bereavement"}, follow=True)
    page = text(response)
    assert "Archived" in page
    assert "Bereavement" in page
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert "Alex" not in text(staff_client.get("/staff/"))
    archived = text(staff_client.get("/staff/?show=archived"))
    assert "Alex" in archived
    assert "Archived: Bereavement" in archived
    staff_client.post(f"/staff/families/{family.pk}/restore/")
    assert "Alex" in text(staff_client.get("/staff/"))


@time_machine.travel("2026-12-09 15:00Z")  # a Wednesday: "now + 5 minutes" is this week
def test_families_filters_show_their_counts_in_a_few_queries(
    staff_client, clinic, staff_user, django_assert_max_num_queries
):
    def make(n):
        for i in range(n):
            loved_one = factories.LovedOneFactory(clinic=clinic)
            status = ["pending", "opted_out", "active"][i % 3]
            factories.CareLinkFactory(caregiver__clinic=clinic, caregiver__status=status, loved_one=loved_one)
            factories.AppointmentFactory(loved_one=loved_one, starts_at=timezone.now() + timedelta(minutes=5))

    make(3)
    archived = factories.LovedOneFactory(clinic=clinic)
    services.family_archive(loved_one=archived, reason="course_ended", by=staff_user)
    page = text(staff_client.get("/staff/"))
    assert "Open families (3)" in page
    assert "Waiting for confirmation (1)" in page
    assert "Opted out (1)" in page
    assert "Sessions this week (3)" in page
    assert "Archived (1)" in page
    assert "3 families" in text(staff_client.get("/staff/?show=this_week"))
    assert "1 family" in text(staff_client.get("/staff/?show=pending"))
    with django_assert_max_num_queries(20) as few:
        staff_client.get("/staff/?show=opted_out")
    make(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        staff_client.get("/staff/?show=opted_out")
    response = staff_client.get("/staff/?show=nonsense")
    assert "That filter does not exist" in text(response)


def test_merge_shows_what_will_move_then_merges(staff_client, family, clinic):
    other = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    sam = factories.CaregiverFactory(clinic=clinic, name="Sam Rivera")
    factories.CareLinkFactory(caregiver=sam, loved_one=other)
    factories.AppointmentFactory(loved_one=other)
    response = staff_client.post(f"/staff/families/{family.pk}/merge/", {"other": other.pk, "step": "preview"})
    page = text(response)
    assert "Caregivers: Sam Rivera." in page
    assert "Appointments: 1." in page
    assert LovedOne.objects.filter(pk=other.pk).exists()
    response = staff_client.post(
        f"/staff/families/{family.pk}/merge/", {"other": other.pk, "step": "merge"}, follow=True
    )
    assert "is merged into this family" in text(response)
    assert set(family.caregivers.values_list("name", flat=True)) == {"Jordan Rivera", "Sam Rivera"}
    assert not LovedOne.objects.filter(pk=other.pk).exists()


def test_a_family_of_another_clinic_cannot_be_merged_in(staff_client, family, other_family):
    response = staff_client.post(f"/staff/families/{family.pk}/merge/", {"other": other_family.pk, "step": "merge"})
    assert response.status_code == 400
    assert "Choose one of this clinic's open families." in text(response)
    assert LovedOne.objects.filter(pk=other_family.pk).exists()


def test_new_sign_ups_lists_web_sign_ups_only_with_their_confirmation_state(staff_client, clinic, content):
    services.caregiver_sign_up(
        clinic=clinic, name="Robin Web", phone="202-555-0161", email="", channels="sms", loved_one_name="Kai",
        relationship="friend", time_zone="America/New_York", ip_address="203.0.113.9",
    )  # fmt: skip
    services.family_enroll(
        clinic=clinic, loved_one_name="Lee",
        caregivers=[{"name": "Staff Entered", "phone": "202-555-0162", "channels": "sms", "relationship": "friend"}],
    )  # fmt: skip
    page = text(staff_client.get("/staff/sign-ups/"))
    assert "Robin Web" in page
    assert "Kai" in page
    assert "Not confirmed" in page
    assert "Staff Entered" not in page
    assert "Choose 7, 14, 30 days" in text(staff_client.get("/staff/sign-ups/?days=9999"))


def test_new_sign_ups_show_every_time_on_the_clinics_clock(staff_client, clinic, content):
    """Found by an outside tester: "Signed up 6:58 PM" (the clinic's clock) beside "code sent 11:58 PM" (UTC)."""
    clinic.time_zone = "America/New_York"
    clinic.save()
    with time_machine.travel("2026-12-03 23:58Z", tick=False):
        services.caregiver_sign_up(
            clinic=clinic, name="Robin Web", phone="202-555-0161", email="", channels="sms", loved_one_name="Kai",
            relationship="friend", time_zone="America/Chicago", ip_address="203.0.113.9",
        )  # fmt: skip
        page = text(staff_client.get("/staff/sign-ups/"))
    assert "Thu Dec 3, 6:58 PM" in page
    assert "code sent Dec 3, 6:58 PM" in page
    assert "11:58 PM" not in page


def test_links_in_messages_are_masked_wherever_staff_read_them(staff_client, family, clinic):
    caregiver = family.caregivers.get()
    url = f"http://testserver/p/{TOKEN}/"
    factories.OutboundMessageFactory(caregiver=caregiver, kind="reply", body=f"Alongside: change settings {url}")
    InboundMessage.objects.create(
        clinic=clinic, caregiver=caregiver, from_number=caregiver.phone, body=f"is this right? {url}",
        action=InboundMessage.Action.STORED, reply=f"See {url}", message_sid="SM1",
    )  # fmt: skip
    timeline = staff_client.get(f"/staff/families/{family.pk}/").content.decode()
    texts = staff_client.get("/staff/texts/").content.decode()
    api = staff_client.get("/api/v1/messages/").content.decode()
    for page in (timeline, texts, api):
        assert "change settings" in page or "is this right" in page
        assert TOKEN not in page
        assert "/p/••••/" in page
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "a-long-test-password"))
    message = OutboundMessage.objects.get(caregiver=caregiver)
    for path in ("/admin/messaging/outboundmessage/", f"/admin/messaging/outboundmessage/{message.pk}/change/",
                 "/admin/messaging/inboundmessage/"):  # fmt: skip
        page = admin.get(path).content.decode()
        assert TOKEN not in page, path
        assert "/p/••••/" in page, path
