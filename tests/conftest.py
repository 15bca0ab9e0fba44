import pytest
from django.contrib.auth import get_user_model

from tests import factories

pytest_plugins = ["tests.service_markers", "tests.fakes.fixtures"]


@pytest.fixture
def clinic(db):
    return factories.ClinicFactory()


@pytest.fixture
def other_clinic(db):
    return factories.ClinicFactory()


@pytest.fixture
def staff_user(clinic):
    user = get_user_model().objects.create_user(username="dana", password="a-long-test-password")
    factories.StaffMembershipFactory(user=user, clinic=clinic)
    return user
