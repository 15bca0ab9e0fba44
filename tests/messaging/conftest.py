from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from caregiver import services
from caregiver.validators import local_to_utc
from tests import factories
from tests.messaging.texting import BASE, TOKEN


@pytest.fixture
def family(content):
    """Build a clinic, a loved one and one consenting caregiver in `zone` (default New York)."""

    def make(zone: str = "America/New_York", channels: str = "sms", **caregiver_fields):
        clinic = factories.ClinicFactory(time_zone=zone)
        loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
        caregiver = factories.CaregiverFactory(
            clinic=clinic, time_zone=zone, channels=channels, tip_frequency="paused", **caregiver_fields
        )
        factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
        for channel in ("sms", "email"):
            if channel in channels or channels == "both":
                factories.ConsentRecordFactory(caregiver=caregiver, channel=channel)
        return caregiver, loved_one

    return make


@pytest.fixture
def infusion():
    def make(loved_one, local: str, *, duration: int = 60, kind: str = "infusion"):
        zone = loved_one.clinic.time_zone
        starts_at = local_to_utc(datetime.fromisoformat(local), time_zone=zone)
        return services.appointment_create(
            loved_one=loved_one, starts_at=starts_at, duration_minutes=duration, kind=kind
        )

    return make


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


@pytest.fixture
def twilio_token(settings):
    """Webhooks signed with a known token, against the public URL Twilio would call."""
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = BASE


@pytest.fixture
def due(db):
    """A queued SMS (or, with channel="email", an email) to a caregiver who opted in to both, at a
    clinic with a from-number."""

    def make(**fields):
        link = factories.CareLinkFactory()
        factories.ConsentRecordFactory(caregiver=link.caregiver, channel="sms")
        factories.ConsentRecordFactory(caregiver=link.caregiver, channel="email")
        return factories.OutboundMessageFactory(caregiver=link.caregiver, **fields)

    return make
