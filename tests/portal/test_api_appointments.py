"""The staff API's appointments: warnings to confirm, one name for the family, plain dates in filters,
and Idempotency-Key on every POST."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from caregiver.models import Appointment, ClinicClosure, LovedOne
from portal.models import IdempotencyKey
from tests import factories
from tests.clients import token_client

API = "/api/v1"
NY = ZoneInfo("America/New_York")
NOW = datetime(2027, 3, 10, 12, 0, tzinfo=NY)


@pytest.fixture
def api(staff_user):
    return token_client(staff_user)


@pytest.fixture
def family(clinic):
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    factories.CareLinkFactory(caregiver=factories.CaregiverFactory(clinic=clinic), loved_one=loved_one)
    return loved_one


def at(day: str, hour: int) -> str:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=NY).isoformat()


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


# --- Warnings -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_duplicate_appointment_is_a_400_until_confirm_is_sent(api, family, clock):
    factories.AppointmentFactory(loved_one=family, starts_at=datetime.fromisoformat(at("2027-03-15", 10)))
    body = {"family": family.pk, "starts_at": at("2027-03-15", 10)}
    response = api.post(f"{API}/appointments/", body, format="json")
    assert response.status_code == 400
    assert response.json()["confirm"][0] == "Alex already has an appointment at Mon Mar 15, 2027 10:00 AM."
    assert api.post(f"{API}/appointments/", {**body, "confirm": True}, format="json").status_code == 201
    assert family.appointments.count() == 2


@pytest.mark.django_db
def test_an_appointment_on_a_closure_day_is_a_400_until_confirmed(api, family, clinic, clock):
    ClinicClosure.objects.create(clinic=clinic, day=datetime(2027, 3, 15).date(), note="")
    body = {"family": family.pk, "starts_at": at("2027-03-15", 10)}
    response = api.post(f"{API}/appointments/", body, format="json")
    assert response.status_code == 400
    assert response.json()["confirm"][0] == "The clinic is closed on Mon Mar 15, 2027."
    assert api.post(f"{API}/appointments/", {**body, "confirm": True}, format="json").status_code == 201


@pytest.mark.django_db
def test_rescheduling_into_the_past_is_a_400_until_confirmed(api, family, clock):
    appointment = factories.AppointmentFactory(loved_one=family, starts_at=datetime.fromisoformat(at("2027-03-15", 10)))
    path = f"{API}/appointments/{appointment.pk}/reschedule/"
    response = api.post(path, {"starts_at": at("2027-03-01", 10)}, format="json")
    assert response.status_code == 400
    assert "Mon Mar 1, 2027 10:00 AM is in the past." in response.json()["confirm"]
    assert api.post(path, {"starts_at": at("2027-03-01", 10), "confirm": True}, format="json").status_code == 200


@pytest.mark.django_db
def test_enrolling_a_family_with_a_past_appointment_needs_confirm(api, clock):
    body = {
        "first_name": "Robin",
        "caregivers": [{"name": "Sam Lee", "phone": "(202) 555-0143", "channels": "sms"}],
        "appointments": [{"starts_at": at("2027-03-01", 10)}],
    }
    response = api.post(f"{API}/families/", body, format="json")
    assert response.status_code == 400
    assert "is in the past" in response.json()["appointments.0.confirm"][0]
    assert not LovedOne.objects.filter(first_name="Robin").exists()
    assert api.post(f"{API}/families/", {**body, "confirm": True}, format="json").status_code == 201


# --- One name for the family ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_family_names_the_family_in_bodies_and_answers_and_loved_one_still_works(api, family, clock):
    new = api.post(f"{API}/appointments/", {"family": family.pk, "starts_at": at("2027-03-15", 10)}, format="json")
    assert new.status_code == 201
    assert new.json()["family"] == new.json()["loved_one"] == family.pk
    old = api.post(f"{API}/appointments/", {"loved_one": family.pk, "starts_at": at("2027-03-16", 10)}, format="json")
    assert old.status_code == 201


@pytest.mark.django_db
def test_family_and_loved_one_naming_different_families_is_a_400(api, family, clinic, clock):
    other = factories.LovedOneFactory(clinic=clinic)
    body = {"family": family.pk, "loved_one": other.pk, "starts_at": at("2027-03-15", 10)}
    response = api.post(f"{API}/appointments/", body, format="json")
    assert response.status_code == 400
    assert "name different families" in response.json()["family"][0]


@pytest.mark.django_db
def test_an_appointment_without_a_family_says_which_field_is_missing(api, clock):
    response = api.post(f"{API}/appointments/", {"starts_at": at("2027-03-15", 10)}, format="json")
    assert response.json() == {"family": ["Say which family: its id."]}


# --- Plain dates in from/to ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_from_and_to_take_plain_dates_as_the_clinics_local_days(api, family, clock):
    def make(local: str) -> int:
        return factories.AppointmentFactory(loved_one=family, starts_at=datetime.fromisoformat(local)).pk

    before = make("2027-03-14T23:30:00-04:00")  # late on the 14th in New York (04:30 UTC on the 15th)
    first = make("2027-03-15T00:15:00-04:00")
    last = make("2027-03-15T23:45:00-04:00")  # 03:45 UTC on the 16th
    after = make("2027-03-16T00:30:00-04:00")
    response = api.get(f"{API}/appointments/", {"from": "2027-03-15", "to": "2027-03-15"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [first, last]
    assert before not in {
        row["id"] for row in api.get(f"{API}/appointments/", {"from": "2027-03-15"}).json()["results"]
    }
    assert after not in {row["id"] for row in api.get(f"{API}/appointments/", {"to": "2027-03-15"}).json()["results"]}


@pytest.mark.django_db
def test_a_date_that_does_not_exist_is_a_400_naming_the_parameter(api, clock):
    response = api.get(f"{API}/appointments/", {"from": "2027-02-30"})
    assert response.status_code == 400
    assert response.json()["parameter"] == "from"
    assert "is not a date" in response.json()["detail"]


@pytest.mark.django_db
def test_date_times_still_need_their_offset(api, clock):
    response = api.get(f"{API}/appointments/", {"to": "2027-03-15T10:00:00"})
    assert response.status_code == 400
    assert "offset" in response.json()["detail"]


# --- Idempotency-Key --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_retried_post_with_the_same_key_makes_one_appointment_and_gets_the_same_answer(api, family, clock):
    body = {"family": family.pk, "starts_at": at("2027-03-15", 10)}
    first = api.post(f"{API}/appointments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post(f"{API}/appointments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert family.appointments.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_422(api, family, clock):
    api.post(f"{API}/appointments/", {"family": family.pk, "starts_at": at("2027-03-15", 10)},
             format="json", HTTP_IDEMPOTENCY_KEY="k-1")  # fmt: skip
    other = api.post(f"{API}/appointments/", {"family": family.pk, "starts_at": at("2027-03-16", 10)},
                     format="json", HTTP_IDEMPOTENCY_KEY="k-1")  # fmt: skip
    assert other.status_code == 422
    assert "already used for a different request" in other.json()["detail"]
    assert family.appointments.count() == 1


@pytest.mark.django_db
def test_keys_are_per_staff_member(api, family, clinic, clock):
    colleague = factories.UserFactory()
    factories.StaffMembershipFactory(user=colleague, clinic=clinic)
    body = {"family": family.pk, "starts_at": at("2027-03-15", 10), "confirm": True}
    api.post(f"{API}/appointments/", body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    theirs = token_client(colleague).post(f"{API}/appointments/", body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert family.appointments.count() == 2


@pytest.mark.django_db
def test_a_failed_request_stores_nothing_so_its_key_can_be_retried(api, family, clock):
    body = {"family": family.pk, "starts_at": at("2027-03-01", 10)}
    assert api.post(f"{API}/appointments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 400
    fixed = api.post(f"{API}/appointments/", {**body, "confirm": True}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert fixed.status_code == 201


@pytest.mark.django_db
def test_a_key_is_forgotten_after_24_hours(api, family):
    appointment = factories.AppointmentFactory(loved_one=family, starts_at=NOW + timedelta(days=5))
    path = f"{API}/appointments/{appointment.pk}/reschedule/"
    with time_machine.travel(NOW, tick=False):
        api.post(path, {"starts_at": at("2027-03-16", 10)}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    IdempotencyKey.objects.create(  # someone else's, as old: it goes too
        user=factories.UserFactory(), key="k", fingerprint="x", status_code=201, response={}, created_at=NOW
    )
    with time_machine.travel(NOW + timedelta(hours=25), tick=False):
        response = api.post(path, {"starts_at": at("2027-03-17", 10)}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 200
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.django_db
def test_cancel_and_family_enrollment_honour_the_key_too(api, family, clock):
    appointment = factories.AppointmentFactory(loved_one=family, starts_at=NOW + timedelta(days=5))
    for _ in range(2):
        response = api.post(f"{API}/appointments/{appointment.pk}/cancel/", HTTP_IDEMPOTENCY_KEY="c")
    assert response["Idempotent-Replayed"] == "true"
    body = {"first_name": "Robin", "caregivers": [{"name": "Sam Lee", "phone": "(202) 555-0143", "channels": "sms"}]}
    for _ in range(2):
        response = api.post(f"{API}/families/", body, format="json", HTTP_IDEMPOTENCY_KEY="f")
    assert response.status_code == 201
    assert LovedOne.objects.filter(first_name="Robin").count() == 1


@pytest.mark.django_db
def test_a_key_that_is_not_printable_ascii_is_a_400(api, family, clock):
    body = {"family": family.pk, "starts_at": at("2027-03-15", 10)}
    response = api.post(f"{API}/appointments/", body, format="json", HTTP_IDEMPOTENCY_KEY="x" * 256)
    assert response.status_code == 400
    assert "printable ASCII" in response.json()["Idempotency-Key"][0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_retries_make_one_appointment_on_postgresql(staff_user, family):
    body = {"family": family.pk, "starts_at": (NOW + timedelta(days=400)).isoformat()}
    clients = [token_client(staff_user, name=f"t{i}") for i in range(2)]
    start = threading.Barrier(2)
    answers = [None, None]

    def post(index: int) -> None:
        try:
            start.wait()
            answers[index] = clients[index].post(
                f"{API}/appointments/", body, format="json", HTTP_IDEMPOTENCY_KEY="same"
            )
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert Appointment.objects.filter(loved_one=family).count() == 1
    assert sorted(a.get("Idempotent-Replayed", "") for a in answers) == ["", "true"]


@pytest.mark.django_db
def test_a_date_written_another_way_is_a_400_that_names_the_forms_that_work(api, clock):
    """Found by an outside tester: "12/5/2026" got a date-time error that never said plain dates work."""
    response = api.get(f"{API}/appointments/", {"from": "12/5/2026"})
    assert response.status_code == 400
    assert "use YYYY-MM-DD, like 2026-12-01, or a date-time with its offset" in response.json()["detail"]


def test_an_appointment_kind_is_read_in_any_case_as_the_csv_imports_read_it(api, family, clock):
    response = api.post(
        f"{API}/appointments/",
        {"family": family.pk, "starts_at": at("2027-03-20", 10), "kind": "Infusion"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert Appointment.objects.get(pk=response.json()["id"]).kind == "infusion"
