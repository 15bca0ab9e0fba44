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
