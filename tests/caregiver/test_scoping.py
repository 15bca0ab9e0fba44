import pytest
from django.contrib.auth.models import AnonymousUser, Permission

from caregiver import selectors
from tests import factories

SELECTORS = [
    selectors.clinics_for_user,
    selectors.loved_ones_for_user,
    selectors.caregivers_for_user,
    selectors.appointments_for_user,
    selectors.consent_records_for_user,
]


@pytest.fixture
def two_families(clinic, other_clinic):
    """One family at each clinic, with a caregiver, consent and an appointment."""
    families = {}
    for c in (clinic, other_clinic):
        link = factories.CareLinkFactory(caregiver__clinic=c)
        factories.ConsentRecordFactory(caregiver=link.caregiver)
        factories.AppointmentFactory(loved_one=link.loved_one)
        families[c.pk] = link
    return families


def _clinic_of(row):
    for path in ("clinic", "loved_one.clinic", "caregiver.clinic"):
        obj = row
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if obj is not None:
            return obj
    return row  # a Clinic itself


@pytest.mark.parametrize("selector", SELECTORS, ids=lambda s: s.__name__)
def test_staff_see_only_their_own_clinic(selector, staff_user, clinic, two_families):
    rows = list(selector(user=staff_user))
    assert rows, "the user's own clinic has rows"
    assert {_clinic_of(row).pk for row in rows} == {clinic.pk}


@pytest.mark.parametrize("selector", SELECTORS, ids=lambda s: s.__name__)
def test_anonymous_and_inactive_users_see_nothing(selector, staff_user, two_families):
    assert not selector(user=AnonymousUser()).exists()
    staff_user.is_active = False
    staff_user.save()
    assert not selector(user=staff_user).exists()


def test_a_user_at_two_clinics_sees_both_once(staff_user, other_clinic, two_families):
    factories.StaffMembershipFactory(user=staff_user, clinic=other_clinic)
    assert selectors.caregivers_for_user(user=staff_user).count() == 2
    assert selectors.clinics_for_user(user=staff_user).count() == 2


def test_admin_lists_only_the_staff_members_clinic(client, staff_user, other_clinic, two_families):
    staff_user.is_staff = True
    staff_user.save()
    staff_user.user_permissions.set(Permission.objects.filter(content_type__app_label="caregiver"))
    client.force_login(staff_user)
    mine = two_families[staff_user.memberships.get().clinic_id].caregiver
    theirs = two_families[other_clinic.pk].caregiver

    page = client.get("/admin/caregiver/caregiver/")
    assert mine.name in page.text
    assert theirs.name not in page.text
    other = client.get(f"/admin/caregiver/caregiver/{theirs.pk}/change/", follow=True)
    assert "doesn’t exist" in other.text
