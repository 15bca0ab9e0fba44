import uuid

import pytest
from django.contrib.auth import get_user_model

from content.services import library_load
from tests import factories

pytest_plugins = ["tests.service_markers", "tests.fakes.fixtures"]


@pytest.fixture
def content(db):
    """The tip library and message templates, loaded as `make run` loads them."""
    return library_load()


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
