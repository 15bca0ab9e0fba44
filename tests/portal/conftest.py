import html
import re

import pytest
from django.test import Client
from django.utils.html import strip_tags

from tests import factories


@pytest.fixture
def clinic_with_content(content):
    return factories.ClinicFactory(name="Riverside Clinic", enrollment_code="RIVER234", time_zone="America/New_York")


@pytest.fixture
def staff_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def outbox_code(caregiver) -> str:
    """The code in the confirmation text that was queued for this caregiver."""
    message = caregiver.messages.filter(kind="confirmation", channel="sms").latest("id")
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def text(response) -> str:
    """The page as a person reads it: tags stripped, entities unescaped, spaces collapsed."""
    return " ".join(html.unescape(strip_tags(response.content.decode())).split())
