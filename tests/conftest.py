import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model

from config.translations import messages_compile
from content.services import library_load, library_read
from tests import factories

pytest_plugins = ["tests.service_markers", "tests.fakes.fixtures"]


def pytest_configure(config):
    """The pages' Spanish is compiled from locale/*.po to the .mo files Django reads (`make test`
    does it first; this covers a bare `pytest` in a fresh clone, and a .po edited since)."""
    messages_compile()


@pytest.fixture(scope="session")
def library_parsed():
    """content/library/ read and validated once a session: the files do not change under the tests."""
    return library_read()


@pytest.fixture
def content(db, library_parsed):
    """The tip library and message templates, loaded as `make run` loads them."""
    return library_load(parsed=library_parsed)


@pytest.fixture
def clinic(db):
    return factories.ClinicFactory()


@pytest.fixture
def other_clinic(db):
    return factories.ClinicFactory()


@pytest.fixture
def caregiver(content):
    """A caregiver who agreed to texts, caring for Alex (modules may define their own)."""
    link = factories.CareLinkFactory(loved_one__first_name="Alex")
    factories.ConsentRecordFactory(caregiver=link.caregiver, channel="sms")
    return link.caregiver


@pytest.fixture
def staff_user(clinic):
    user = get_user_model().objects.create_user(username="dana", password="a-long-test-password")
    factories.StaffMembershipFactory(user=user, clinic=clinic)
    return user


@pytest.fixture(autouse=True)
def fresh_cache_namespace(settings):
    """Each test counts rate limits and throttles from zero: its own key prefix in the shared cache."""
    caches = {alias: dict(config) for alias, config in settings.CACHES.items()}
    for config in caches.values():
        config["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = caches


@pytest.fixture
def waking_hours():
    """The clock at 11:00 in New York (the next such morning, so cookies and tokens are not in the
    past), ticking: for a test whose story needs texts that wait for waking hours (a staff
    invitation) to go at once, at whatever hour the suite runs."""
    new_york = ZoneInfo("America/New_York")
    morning = datetime.now(new_york).replace(hour=11, minute=0, second=0, microsecond=0) + timedelta(days=1)
    with time_machine.travel(morning, tick=True):
        yield morning
