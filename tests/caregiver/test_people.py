"""Staff fixing a family: edit or add a caregiver, archive (and restore) a family, merge two."""

from datetime import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from caregiver import selectors, services
from caregiver.models import Appointment, AuditEvent, Caregiver, CareLink, ChannelConfirmation, LovedOne
from caregiver.validators import local_to_utc
from messaging import planning
from messaging.models import OutboundMessage
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
NOW = "2026-12-07 15:00Z"  # Monday 10:00 in New York


@pytest.fixture
def staff(clinic):
    membership = factories.StaffMembershipFactory(clinic=clinic)
    return membership.user


def consenting(loved_one, name="Sam Rivera", phone="+12025550143", **fields):
    caregiver = factories.CaregiverFactory(
        clinic=loved_one.clinic, name=name, phone=phone, tip_frequency="daily", **fields
    )
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    factories.ConsentRecordFactory(caregiver=caregiver, channel="sms")
    return caregiver


def infusion(loved_one, local="2026-12-09 10:00"):
    return services.appointment_create(
        loved_one=loved_one, starts_at=local_to_utc(datetime.fromisoformat(local), time_zone="America/New_York")
    )


def plan(now=NOW):
    with time_machine.travel(now, tick=False):
        planning.plan_due(now=timezone.now())


def outbox(caregiver, **filters):
    return OutboundMessage.objects.filter(caregiver=caregiver, **filters)


# --- Editing a caregiver ---------------------------------------------------------------------


def test_a_new_number_is_asked_to_confirm_and_the_old_one_gets_nothing_more(clinic, staff, content):
    loved_one = factories.LovedOneFactory(clinic=clinic)
    sam = consenting(loved_one)
    services.caregiver_staff_edit(caregiver=sam, by=staff, name="Sam Rivera", phone="(202) 555-0177")
    sam.refresh_from_db()
    assert sam.phone == "+12025550177"
    invitation = ChannelConfirmation.objects.get(caregiver=sam, confirmed_at__isnull=True)
    assert (invitation.address, invitation.method) == ("+12025550177", "reply")
    assert outbox(sam, kind="confirmation", to="+12025550177").exists()
    assert selectors.caregiver_consent(caregiver=sam) == {}  # the old number's yes stays with it
    assert sam.status == Caregiver.Status.PENDING
    event = AuditEvent.objects.get(action="caregiver.update", target_id=sam.pk)
    assert event.actor == staff
    assert event.changes == {"phone": "changed"}


def test_a_channel_staff_turn_on_is_asked_to_confirm_and_an_unchanged_save_asks_nothing(clinic, staff, content):
    loved_one = factories.LovedOneFactory(clinic=clinic)
    sam = consenting(loved_one, email="sam@example.com")
    services.caregiver_staff_edit(caregiver=sam, by=staff, channels="sms", name=sam.name)
    assert not ChannelConfirmation.objects.filter(caregiver=sam).exists()
    services.caregiver_staff_edit(caregiver=sam, by=staff, channels="both")
    link = ChannelConfirmation.objects.get(caregiver=sam)
    assert (link.channel, link.address, link.method) == ("email", "sam@example.com", "link")
    sam.refresh_from_db()
    assert sam.status == Caregiver.Status.ACTIVE  # texts are still confirmed


def test_an_archived_caregivers_contact_cannot_change(clinic, staff, content):
    loved_one = factories.LovedOneFactory(clinic=clinic)
    sam = consenting(loved_one)
    services.family_archive(loved_one=loved_one, reason="course_ended", by=staff)
    sam.refresh_from_db()
    with pytest.raises(ValidationError, match="restore it before changing how to reach them"):
        services.caregiver_staff_edit(caregiver=sam, by=staff, phone="+12025550177")
    services.caregiver_staff_edit(caregiver=sam, by=staff, name="Samantha Rivera", phone="202-555-0143")
    sam.refresh_from_db()
    assert sam.name == "Samantha Rivera"


def test_a_caregiver_added_to_a_family_is_invited_like_an_enrolled_one(clinic, staff, content):
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    jo = services.family_caregiver_add(
        loved_one=loved_one, by=staff, name="Jo Rivera", phone="202 555 0188", email="", channels="sms",
        relationship="sibling",
    )  # fmt: skip
    assert CareLink.objects.get(caregiver=jo).loved_one == loved_one
    assert jo.status == Caregiver.Status.PENDING
    assert ChannelConfirmation.objects.get(caregiver=jo).method == "reply"
    assert "YES" in outbox(jo, kind="confirmation").get().body
    assert AuditEvent.objects.filter(action="caregiver.create", target_id=jo.pk, actor=staff).exists()


# --- Archiving ---------------------------------------------------------------------------------


# --- Correcting the loved one's name -----------------------------------------------------------


def test_a_corrected_name_is_in_every_message_still_to_come_and_in_the_log(clinic, staff, content):
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alx")
    sam = consenting(loved_one)
    with time_machine.travel(NOW, tick=False):
        infusion(loved_one)
    plan()
    assert any("Alx" in body for body in outbox(sam, status="scheduled").values_list("body", flat=True))
    with time_machine.travel("2026-12-07 15:05Z", tick=False):
        services.loved_one_rename(loved_one=loved_one, first_name="  Alex ", by=staff)
    plan("2026-12-07 15:06Z")
    bodies = list(outbox(sam, status="scheduled").values_list("body", flat=True))
    assert bodies
    assert not any("Alx" in body for body in bodies)
    assert any("Alex" in body for body in bodies)
    event = AuditEvent.objects.get(action="family.rename")
    assert event.changes == {"first_name": ["Alx", "Alex"]}


def test_a_name_that_would_reveal_treatment_is_refused_on_rename(clinic, staff):
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    with pytest.raises(ValidationError):
        services.loved_one_rename(loved_one=loved_one, first_name="Alex (ketamine)", by=staff)
    loved_one.refresh_from_db()
    assert loved_one.first_name == "Alex"


@pytest.mark.parametrize("reason", ["bereavement", "course_ended", "moved_clinic"])
def test_archiving_cancels_everything_scheduled_and_sends_nothing(clinic, staff, content, reason):
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    sam = consenting(loved_one)
    with time_machine.travel(NOW, tick=False):
        appointment = infusion(loved_one)
    plan()
    planned = set(outbox(sam, status="scheduled").values_list("pk", flat=True))
    assert planned
    with time_machine.travel("2026-12-07 15:05Z", tick=False):
        services.family_archive(loved_one=loved_one, reason=reason, by=staff)
    plan("2026-12-07 15:06Z")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    reasons = set(outbox(sam, pk__in=planned).values_list("status", "status_reason"))
    assert reasons == {("cancelled", "family_archived")}
    # Nothing new: no cancellation notice, no goodbye.
    assert not outbox(sam).exclude(pk__in=planned).exists()
    plan("2026-12-08 15:00Z")
    assert not outbox(sam).exclude(pk__in=planned).exists()
    loved_one.refresh_from_db()
    with pytest.raises(ValidationError, match="archived"):
        infusion(loved_one, "2026-12-11 10:00")


def test_archived_is_kept_through_stop_and_start_and_restore_brings_messages_back(client, clinic, staff, content):
    loved_one = factories.LovedOneFactory(clinic=clinic)
    sam = consenting(loved_one)
    services.family_archive(loved_one=loved_one, reason="course_ended", by=staff)
    sam.refresh_from_db()
    services.caregiver_opt_out(caregiver=sam, channel="sms", source="sms")
    services.caregiver_opt_in(caregiver=sam, channel="sms", source="sms", consent_text_version="v1")
    sam.refresh_from_db()
    assert sam.status == Caregiver.Status.ARCHIVED
    services.family_restore(loved_one=loved_one, by=staff)
    sam.refresh_from_db()
    assert sam.status == Caregiver.Status.ACTIVE
    plan()
    assert outbox(sam, kind="tip", status="scheduled").exists()


def test_a_caregiver_of_another_open_family_keeps_that_familys_messages(clinic, staff, content):
    alex = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    robin = factories.LovedOneFactory(clinic=clinic, first_name="Robin")
    sam = consenting(alex)
    factories.CareLinkFactory(caregiver=sam, loved_one=robin)
    services.family_archive(loved_one=alex, reason="moved_clinic", by=staff)
    sam.refresh_from_db()
    assert sam.status == Caregiver.Status.ACTIVE
    with time_machine.travel(NOW, tick=False):
        infusion(robin)
    plan()
    assert outbox(sam, kind="reminder", status="scheduled").exists()


def test_archiving_needs_a_reason_and_happens_once(clinic, staff):
    loved_one = factories.LovedOneFactory(clinic=clinic)
    with pytest.raises(ValidationError, match="Choose why"):
        services.family_archive(loved_one=loved_one, reason="", by=staff)
    services.family_archive(loved_one=loved_one, reason="bereavement", by=staff)
    with pytest.raises(ValidationError, match="already archived"):
        services.family_archive(loved_one=loved_one, reason="bereavement", by=staff)
    event = AuditEvent.objects.get(action="family.archive")
    assert event.changes["archived_reason"] == "bereavement"
    assert event.describe("America/New_York").startswith("archived reason Bereavement;")


# --- Merging -----------------------------------------------------------------------------------


def test_merging_two_sign_ups_moves_caregivers_and_appointments_without_duplicates(clinic, staff, content):
    keep = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    other = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    sam = consenting(keep, name="Sam Rivera", phone="+12025550143")
    jordan = consenting(other, name="Jordan Rivera", phone="+12025550144")
    both = consenting(keep, name="Casey Rivera", phone="+12025550145")
    factories.CareLinkFactory(caregiver=both, loved_one=other)
    with time_machine.travel(NOW, tick=False):
        kept_visit = infusion(keep, "2026-12-08 10:00")
        same_visit = infusion(other, "2026-12-08 10:00")
        later = infusion(other, "2026-12-15 10:00")
    plan()
    jordans = set(outbox(jordan, kind="reminder").values_list("pk", flat=True))
    assert jordans
    services.family_merge(keep=keep, merge=other, by=staff)
    assert not LovedOne.objects.filter(pk=other.pk).exists()
    assert set(keep.caregivers.values_list("name", flat=True)) == {"Sam Rivera", "Jordan Rivera", "Casey Rivera"}
    assert CareLink.objects.filter(caregiver=both).count() == 1
    assert set(keep.appointments.values_list("pk", flat=True)) == {kept_visit.pk, same_visit.pk, later.pk}
    same_visit.refresh_from_db()
    assert same_visit.status == Appointment.Status.CANCELLED
    plan("2026-12-07 15:01Z")
    for caregiver in (sam, jordan, both):
        live = outbox(caregiver, kind="reminder", appointment=kept_visit).exclude(status="cancelled")
        rules = list(live.values_list("rule__key", flat=True))
        assert rules, caregiver.name
        assert len(rules) == len(set(rules)), caregiver.name  # each reminder once
    # Jordan's reminders for the same visit now belong to the kept one: not cancelled, not re-made.
    assert set(outbox(jordan, pk__in=jordans).values_list("appointment_id", flat=True)) == {kept_visit.pk}
    assert not outbox(jordan).filter(kind="notice").exists()
    event = AuditEvent.objects.get(action="family.merge")
    assert event.changes["duplicates_cancelled"] == 1
    assert event.changes["caregivers_moved"] == 1


def test_families_of_two_clinics_or_an_archived_one_are_not_merged(clinic, other_clinic, staff):
    keep = factories.LovedOneFactory(clinic=clinic)
    with pytest.raises(ValidationError, match="same clinic"):
        services.family_merge(keep=keep, merge=factories.LovedOneFactory(clinic=other_clinic), by=staff)
    archived = factories.LovedOneFactory(clinic=clinic)
    archived = services.family_archive(loved_one=archived, reason="course_ended", by=staff)
    with pytest.raises(ValidationError, match="archived"):
        services.family_merge(keep=keep, merge=archived, by=staff)
    with pytest.raises(ValidationError, match="another family"):
        services.family_merge(keep=keep, merge=keep, by=staff)
