"""What staff read of a message never carries a link's secret: every token-bearing link we make
is masked by the one helper, and ordinary links are left as they are."""

import pytest

from messaging import alerts, rendering
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def jordan(db):
    caregiver = factories.CaregiverFactory(email="jordan@example.com")
    appointment = factories.AppointmentFactory(loved_one__clinic=caregiver.clinic)
    return caregiver, appointment


def test_every_token_bearing_link_we_make_is_masked(jordan):
    caregiver, appointment = jordan
    links = [
        rendering.preferences_url(caregiver, channel="sms"),
        rendering.unsubscribe_url(caregiver),
        rendering.ride_url(caregiver, appointment),
        rendering.email_confirm_url(12345),
        alerts.ack_url(alert_id=7, contact_id=3),
    ]
    for link in links:
        text = f'Alongside: tap {link} to open.\n<a href="{link}">here</a>'
        masked = rendering.mask_links(text)
        secret = link.rstrip("/").rsplit("/", 1)[-1]
        assert secret not in masked, link
        assert masked.count("/••••/") == 2, masked
        assert masked.startswith("Alongside: tap http")


def test_a_calendar_secret_and_a_token_in_a_query_are_masked_and_plain_links_are_not():
    calendar = "https://care.example.org/calendar/Zk3u0pQ1lC5yq2xVb8nTtW9sJdAbCdEfGhIjKlMnOpQ.ics"
    assert rendering.mask_links(f"Add {calendar}") == "Add https://care.example.org/calendar/••••"
    assert rendering.mask_links("https://x.example/u/?token=Zk3u0pQ1lC5yq2xVb8&lang=en") == (
        "https://x.example/u/?token=••••&lang=en"
    )
    plain = "Call us or see https://care.example.org/staff/families/12/?show=pending#caregivers"
    assert rendering.mask_links(plain) == plain
    assert rendering.mask_links("") == ""
