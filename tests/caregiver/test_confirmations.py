"""Double opt-in services: codes, YES replies and links, and what they record."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from caregiver import services
from caregiver.consent import CURRENT_STAFF
from caregiver.models import Caregiver, ChannelConfirmation
from messaging.inbound import inbound_receive
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(clinic):
    caregiver = factories.CaregiverFactory(clinic=clinic, status=Caregiver.Status.PENDING, phone="+12025550143")
    factories.CareLinkFactory(caregiver=caregiver)
    return caregiver


def test_a_staff_enrolled_caregiver_confirms_by_replying_yes(pending, content, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.caregiver_invite(caregiver=pending, by=None)
    invite = pending.messages.get()
    assert "Reply YES" in invite.body
    result = inbound_receive(
        message_sid="SM" + "y" * 32, from_number=pending.phone, to_number=pending.clinic.twilio_from_number, body="yes!"
    )
    pending.refresh_from_db()
    assert pending.status == Caregiver.Status.ACTIVE
    record = pending.consent_records.get()
    assert (record.source, record.consent_text_version, record.message_sid) == ("sms", CURRENT_STAFF, "SM" + "y" * 32)
    # The welcome follows; no "subscribed again", which would be wrong the first time.
    assert result.reply == ""


def test_an_invitation_staff_send_late_at_night_waits_for_the_morning(
    pending, content, django_capture_on_commit_callbacks
):
    chicago = ZoneInfo("America/Chicago")
    pending.time_zone = "America/Chicago"
    pending.save()
    with time_machine.travel(datetime(2027, 3, 10, 23, 15, tzinfo=chicago), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            services.caregiver_invite(caregiver=pending, by=None)
        invite = pending.messages.get()
        assert invite.send_at.astimezone(chicago) == datetime(2027, 3, 11, 8, 0, tzinfo=chicago)
        # A code someone is waiting for on the sign-up page goes at once, whatever the hour.
        with django_capture_on_commit_callbacks(execute=True):
            services.confirmation_start(caregiver=pending, channel="sms", source="web", consent_text_version="v")
        code = pending.messages.exclude(pk=invite.pk).get()
        assert code.send_at == timezone.now()


def test_a_new_code_makes_the_old_one_useless(pending):
    first = services.confirmation_start(caregiver=pending, channel="sms", source="web", consent_text_version="v")
    services.confirmation_start(caregiver=pending, channel="sms", source="web", consent_text_version="v")
    first.refresh_from_db()
    assert first.expires_at <= timezone.now()


def test_stop_everything_cancels_a_waiting_code(pending):
    services.confirmation_start(caregiver=pending, channel="sms", source="web", consent_text_version="v")
    services.caregiver_stop_everything(caregiver=pending, ip_address=None)
    pending.refresh_from_db()
    assert pending.status == Caregiver.Status.OPTED_OUT
    with pytest.raises(ValidationError, match="expired"):
        services.confirmation_code_check(caregiver=pending, code="123456")


def test_the_admin_shows_confirmations_but_never_the_code_hash(pending, staff_user):
    confirmation = services.confirmation_start(caregiver=pending, channel="sms", source="web", consent_text_version="v")
    staff_user.is_staff = True
    staff_user.save()
    staff_user.user_permissions.add(*_view_permission())
    client = Client()
    client.force_login(staff_user)
    page = client.get(f"/admin/caregiver/channelconfirmation/{confirmation.pk}/change/").content.decode()
    assert "Code by SMS" in page
    assert confirmation.code_hash not in page
    assert ChannelConfirmation.objects.count() == 1


def _view_permission():
    return Permission.objects.filter(codename="view_channelconfirmation")
