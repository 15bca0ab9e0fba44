import pytest
import time_machine
from django.core.exceptions import ValidationError

from caregiver import selectors, services
from caregiver.models import Caregiver, ConsentRecord
from tests.factories import CaregiverFactory


@pytest.fixture
def pending(db):
    return CaregiverFactory(status=Caregiver.Status.PENDING, channels=Caregiver.Channels.BOTH)


def test_a_caregiver_with_no_records_has_given_no_consent(pending):
    assert selectors.caregiver_consent(caregiver=pending) == {}


def test_confirming_a_channel_activates_the_caregiver(pending):
    services.caregiver_opt_in(caregiver=pending, channel="sms", source="web", consent_text_version="v1")
    pending.refresh_from_db()
    assert pending.status == Caregiver.Status.ACTIVE
    assert selectors.caregiver_consent(caregiver=pending) == {"sms": True}


def test_the_latest_record_per_channel_wins(pending):
    with time_machine.travel("2026-11-01 12:00Z", tick=False):
        services.caregiver_opt_in(caregiver=pending, channel="sms", source="web", consent_text_version="v1")
        services.caregiver_opt_in(caregiver=pending, channel="email", source="web", consent_text_version="v1")
    with time_machine.travel("2026-11-02 12:00Z", tick=False):
        services.caregiver_opt_out(caregiver=pending, channel="sms", source="sms", message_sid="SM123")
    assert selectors.caregiver_consent(caregiver=pending) == {"sms": False, "email": True}
    annotated = selectors.caregivers_with_consent().get(pk=pending.pk)
    assert (annotated.sms_consent, annotated.email_consent) == ("opt_out", "opt_in")


def test_opting_out_of_every_channel_opts_the_caregiver_out_and_back_in(pending):
    services.caregiver_opt_in(caregiver=pending, channel="sms", source="web", consent_text_version="v1")
    services.caregiver_opt_out(caregiver=pending, channel="sms", source="sms")
    pending.refresh_from_db()
    assert pending.status == Caregiver.Status.OPTED_OUT
    services.caregiver_opt_in(caregiver=pending, channel="sms", source="sms", consent_text_version="v1")
    pending.refresh_from_db()
    assert pending.status == Caregiver.Status.ACTIVE


def test_records_are_append_only(pending):
    record = services.caregiver_opt_in(caregiver=pending, channel="sms", source="web", consent_text_version="v1")
    record.action = ConsentRecord.Action.OPT_OUT
    with pytest.raises(ValidationError, match="append-only"):
        record.save()
    with pytest.raises(ValidationError, match="cannot be deleted"):
        record.delete()
    assert ConsentRecord.objects.get(pk=record.pk).action == ConsentRecord.Action.OPT_IN


def test_opt_in_needs_the_consent_text_version_and_a_reachable_channel(db):
    email_only = CaregiverFactory(phone="", channels=Caregiver.Channels.EMAIL)
    with pytest.raises(ValidationError, match="which consent text"):
        services.caregiver_opt_in(caregiver=email_only, channel="email", source="web", consent_text_version="")
    with pytest.raises(ValidationError, match="no mobile number"):
        services.caregiver_opt_in(caregiver=email_only, channel="sms", source="web", consent_text_version="v1")
    assert not ConsentRecord.objects.exists()


# --- Consent belongs to an address -----------------------------------------------------------


@pytest.fixture
def confirmed(db):
    caregiver = CaregiverFactory(status=Caregiver.Status.PENDING, channels=Caregiver.Channels.BOTH)
    for channel in ("sms", "email"):
        services.caregiver_opt_in(caregiver=caregiver, channel=channel, source="web", consent_text_version="v1")
    caregiver.refresh_from_db()
    return caregiver


def test_each_consent_record_names_the_address_it_was_given_for(confirmed):
    records = {r.channel: r.address for r in confirmed.consent_records.all()}
    assert records == {"sms": confirmed.phone, "email": confirmed.email}


def test_a_new_number_has_no_consent_until_it_is_confirmed_and_gets_an_invitation(confirmed, staff_user):
    old = confirmed.phone
    services.caregiver_update(caregiver=confirmed, phone="(415) 555-0187", by=staff_user)
    confirmed.refresh_from_db()
    assert confirmed.phone == "+14155550187" != old
    assert selectors.caregiver_consent(caregiver=confirmed) == {"email": True}  # the email is unchanged
    invitation = confirmed.confirmations.get(channel="sms", confirmed_at__isnull=True)
    assert (invitation.address, invitation.method, invitation.source) == ("+14155550187", "reply", "staff")
    assert (
        selectors.caregiver_send_problem(caregiver=confirmed, channel="sms", opted_in=None, now=invitation.created_at)
        == "no_consent"
    )
    assert (
        selectors.caregiver_send_problem(
            caregiver=confirmed, channel="sms", opted_in=None, now=invitation.created_at, asked_for=True
        )
        == ""
    )  # the invitation itself may go


def test_a_yes_from_the_new_number_confirms_it(confirmed, staff_user):
    services.caregiver_update(caregiver=confirmed, phone="+14155550187", by=staff_user)
    confirmed.refresh_from_db()
    record = services.confirmation_reply_check(caregiver=confirmed, message_sid="SM" + "1" * 32)
    assert record.address == "+14155550187"
    assert selectors.caregiver_consent(caregiver=confirmed) == {"sms": True, "email": True}


def test_a_caregiver_whose_only_channel_changed_waits_for_its_confirmation(db, staff_user):
    caregiver = CaregiverFactory(status=Caregiver.Status.PENDING, channels=Caregiver.Channels.SMS)
    services.caregiver_opt_in(caregiver=caregiver, channel="sms", source="web", consent_text_version="v1")
    services.caregiver_update(caregiver=caregiver, phone="+14155550187", by=staff_user)
    caregiver.refresh_from_db()
    assert caregiver.status == Caregiver.Status.PENDING
    services.confirmation_reply_check(caregiver=caregiver, message_sid="SM" + "2" * 32)
    caregiver.refresh_from_db()
    assert caregiver.status == Caregiver.Status.ACTIVE


def test_a_confirmation_sent_to_an_old_address_cannot_confirm_the_new_one(confirmed, staff_user):
    email_link = services.confirmation_start(
        caregiver=confirmed, channel="email", source="web", consent_text_version="v1"
    )
    services.caregiver_update(caregiver=confirmed, email="New.Address@Example.org", by=staff_user)
    from caregiver.tokens import email_confirm_token

    with pytest.raises(ValidationError):
        services.confirmation_link_check(token=email_confirm_token(email_link.pk))
    confirmed.refresh_from_db()
    assert "email" not in selectors.caregiver_consent(caregiver=confirmed)


def test_an_opt_out_stays_with_the_number_it_came_from(confirmed, staff_user):
    services.caregiver_opt_out(caregiver=confirmed, channel="sms", source="sms")
    services.caregiver_update(caregiver=confirmed, phone="+14155550187", by=staff_user)
    confirmed.refresh_from_db()
    assert "sms" not in selectors.caregiver_consent(caregiver=confirmed)  # never asked, not "opted out"
    stop = confirmed.consent_records.get(action="opt_out")
    assert stop.address != confirmed.phone


def test_moving_back_to_an_earlier_number_needs_a_new_yes(confirmed, staff_user):
    first = confirmed.phone
    services.caregiver_update(caregiver=confirmed, phone="+14155550187", by=staff_user)
    services.confirmation_reply_check(caregiver=confirmed, message_sid="SM" + "3" * 32)
    services.caregiver_update(caregiver=confirmed, phone=first, by=staff_user)
    confirmed.refresh_from_db()
    # The number may have been someone else's in between: its old yes does not count.
    assert "sms" not in selectors.caregiver_consent(caregiver=confirmed)
    assert selectors.caregivers_with_consent().get(pk=confirmed.pk).sms_consent is None
    assert confirmed.confirmations.filter(address=first, confirmed_at__isnull=True).exists()


# --- Links follow the address they were sent to ---------------------------------------------------


def test_a_preferences_link_sent_to_an_unconfirmed_email_opens_nothing(client, confirmed, staff_user):
    from caregiver.tokens import preferences_token

    services.caregiver_update(caregiver=confirmed, email="typo@example.org", by=staff_user)
    unconfirmed = preferences_token(confirmed.pk, address="typo@example.org")
    assert client.get(f"/p/{unconfirmed}/").status_code == 404
    by_text = preferences_token(confirmed.pk, address=confirmed.phone)  # the number is still confirmed
    assert client.get(f"/p/{by_text}/").status_code == 200


def test_a_preferences_link_to_an_address_they_left_opens_nothing(client, confirmed, staff_user):
    from caregiver.tokens import preferences_token

    old = preferences_token(confirmed.pk, address=confirmed.phone)
    services.caregiver_update(caregiver=confirmed, phone="+14155550187", by=staff_user)
    assert client.get(f"/p/{old}/").status_code == 404


def test_an_unsubscribe_link_from_an_old_address_stops_nothing_and_shows_nothing(client, confirmed, staff_user):
    from caregiver.tokens import unsubscribe_token

    old = unsubscribe_token(confirmed.pk, email=confirmed.email)
    services.caregiver_update(caregiver=confirmed, email="new.address@example.org", by=staff_user)
    from caregiver.tokens import email_confirm_token

    link = confirmed.confirmations.get(channel="email", confirmed_at__isnull=True)
    services.confirmation_link_check(token=email_confirm_token(link.pk))
    page = client.get(f"/unsubscribe/{old}/")
    assert "new.address@example.org" not in page.content.decode()
    client.post(f"/unsubscribe/{old}/")
    confirmed.refresh_from_db()
    assert selectors.caregiver_consent(caregiver=confirmed)["email"] is True


# --- Answering the invitation -------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["Yes please", "yep", "ok yes", "y", "Yes thanks!", "YES"])
def test_a_plain_yes_in_any_words_confirms_a_new_number(confirmed, staff_user, answer, content):
    from messaging.inbound import inbound_receive

    services.caregiver_update(caregiver=confirmed, phone="+14155550187", by=staff_user)
    result = inbound_receive(
        message_sid="SM" + "4" * 32, from_number="+14155550187", to_number=confirmed.clinic.twilio_from_number,
        body=answer,
    )  # fmt: skip
    assert result.action == "opt_in"
    confirmed.refresh_from_db()
    assert selectors.caregiver_consent(caregiver=confirmed)["sms"] is True


@pytest.mark.parametrize("answer", ["yes but only on weekends", "no", "ok", "yes he is sleeping"])
def test_a_yes_with_more_to_it_is_not_taken_as_consent(confirmed, staff_user, answer, content):
    from messaging.inbound import inbound_receive

    services.caregiver_update(caregiver=confirmed, phone="+14155550187", by=staff_user)
    inbound_receive(
        message_sid="SM" + "5" * 32, from_number="+14155550187", to_number=confirmed.clinic.twilio_from_number,
        body=answer,
    )  # fmt: skip
    confirmed.refresh_from_db()
    assert "sms" not in selectors.caregiver_consent(caregiver=confirmed)


def test_a_loose_yes_never_resubscribes_someone_who_said_stop(confirmed, content):
    from messaging.inbound import inbound_receive

    services.caregiver_opt_out(caregiver=confirmed, channel="sms", source="sms")
    inbound_receive(
        message_sid="SM" + "6" * 32, from_number=confirmed.phone, to_number=confirmed.clinic.twilio_from_number,
        body="yep",
    )  # fmt: skip
    assert selectors.caregiver_consent(caregiver=confirmed)["sms"] is False


def test_a_confirmed_new_number_is_welcomed(confirmed, staff_user, content):
    from messaging import services as messaging_services
    from messaging.models import OutboundMessage

    assert messaging_services.welcome_enqueue(caregiver_id=confirmed.pk) == 2  # sms and email, once each
    services.caregiver_update(caregiver=confirmed, phone="+14155550187", by=staff_user)
    services.confirmation_reply_check(caregiver=confirmed, message_sid="SM" + "8" * 32)
    confirmed.refresh_from_db()
    assert messaging_services.welcome_enqueue(caregiver_id=confirmed.pk) == 1  # the new number only
    welcome = OutboundMessage.objects.filter(caregiver=confirmed, channel="sms", dedupe_key__startswith="welcome:")
    assert welcome.count() == 2


def test_a_welcome_made_for_one_number_never_goes_to_the_next(confirmed, staff_user, fake_twilio, content):
    from messaging import sending
    from messaging import services as messaging_services
    from messaging.models import OutboundMessage

    services.caregiver_update(caregiver=confirmed, phone="+14155550171", by=staff_user)
    services.confirmation_reply_check(caregiver=confirmed, message_sid="SM" + "a" * 32)
    confirmed.refresh_from_db()
    messaging_services.welcome_enqueue(caregiver_id=confirmed.pk)
    # Staff fix the number again before the welcome went out.
    services.caregiver_update(caregiver=confirmed, phone="+14155550172", by=staff_user)
    waiting = list(
        OutboundMessage.objects.filter(caregiver=confirmed, channel="sms", status="scheduled").values_list(
            "pk", flat=True
        )
    )
    assert waiting
    OutboundMessage.objects.filter(pk__in=waiting).update(status="queued")
    outcomes = sending.messages_send(message_ids=waiting)
    assert "suppressed:address_changed" in outcomes.values()
    # At most its own invitation: never the welcome made for the number before it.
    assert all("YES" in m["body"] for m in fake_twilio.sent_to("+14155550172"))


def test_an_unconfirmed_number_cannot_act_for_the_family_and_hears_no_names(confirmed, staff_user, content):
    from datetime import timedelta

    from django.utils import timezone

    from messaging.inbound import inbound_receive
    from tests.factories import AppointmentFactory, CareLinkFactory

    link = CareLinkFactory(caregiver=confirmed, loved_one__clinic=confirmed.clinic, loved_one__first_name="Alex")
    appointment = AppointmentFactory(loved_one=link.loved_one, starts_at=timezone.now() + timedelta(days=2))
    services.caregiver_update(caregiver=confirmed, phone="+14155550161", by=staff_user)
    result = inbound_receive(
        message_sid="SM" + "b" * 32, from_number="+14155550161", to_number=confirmed.clinic.twilio_from_number,
        body="RIDE",
    )  # fmt: skip
    appointment.refresh_from_db()
    assert appointment.ride_arranged_at is None
    assert link.loved_one.first_name not in result.reply
    assert confirmed.name.split()[0] not in result.reply
