"""The staff API as a clinic's own system (or a staff member's script) uses it."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from caregiver.models import Appointment, Caregiver, ChannelConfirmation, LovedOne
from portal.models import StaffApiToken
from tests import factories
from tests.clients import token_client

API = "/api/v1"


@pytest.fixture
def api(staff_user) -> APIClient:
    return token_client(staff_user)


def family_at(clinic, *, name="Alex"):
    """A loved one with a consenting caregiver, an appointment and a message about it."""
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name=name)
    caregiver = factories.CaregiverFactory(clinic=clinic)
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    factories.ConsentRecordFactory(caregiver=caregiver)
    appointment = factories.AppointmentFactory(loved_one=loved_one)
    message = factories.OutboundMessageFactory(caregiver=caregiver, kind="reminder", appointment=appointment)
    return {"family": loved_one, "caregiver": caregiver, "appointment": appointment, "message": message}


@pytest.fixture
def ours(clinic):
    return family_at(clinic, name="Alex")


@pytest.fixture
def theirs(other_clinic):
    return family_at(other_clinic, name="Robin")


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def in_three_days(hour: int = 15) -> datetime:
    day = timezone.now() + timedelta(days=3)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


# --- Authentication and permission -------------------------------------------------------------------


def test_a_token_acts_as_its_staff_member_and_records_its_use(api, ours):
    assert ids(api.get(f"{API}/families/")) == {ours["family"].pk}
    assert StaffApiToken.objects.get().last_used_at is not None


def test_last_used_at_is_written_at_most_once_a_minute(api):
    start = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        api.get(f"{API}/families/")
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        api.get(f"{API}/families/")
    assert StaffApiToken.objects.get().last_used_at == start
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        api.get(f"{API}/families/")
    assert StaffApiToken.objects.get().last_used_at == start + timedelta(minutes=2)


def test_a_logged_in_staff_member_can_use_the_api_with_their_session(staff_user, ours):
    client = APIClient()
    client.force_login(staff_user)
    assert ids(client.get(f"{API}/families/")) == {ours["family"].pk}


def test_a_session_write_without_the_csrf_token_is_refused(staff_user, ours):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff_user)
    response = client.post(f"{API}/appointments/{ours['appointment'].pk}/cancel/")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    ours["appointment"].refresh_from_db()
    assert ours["appointment"].status == Appointment.Status.SCHEDULED


def test_no_credentials_is_a_401_saying_how_to_authenticate(db):
    response = APIClient().get(f"{API}/families/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "Authorization: Token" in response.json()["detail"]


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("Token", "no key after “Token”"),
        ("Token not-a-token", "not valid"),
        ("Token abcdefgh.0123456789abcdef0123456789abcdef", "not valid"),
    ],
)
def test_a_missing_or_made_up_token_is_a_401(db, header, says):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(f"{API}/families/")
    assert response.status_code == 401
    assert says in response.json()["detail"]


def test_a_revoked_token_is_a_403_saying_so(staff_user):
    token, key = StaffApiToken.objects.create_key(name="old", user=staff_user)
    token.revoked = True
    token.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get(f"{API}/families/")
    assert response.status_code == 403
    assert "revoked" in response.json()["detail"]


def test_an_expired_token_is_a_403_saying_when_it_expired(staff_user):
    _, key = StaffApiToken.objects.create_key(
        name="old", user=staff_user, expiry_date=datetime(2026, 1, 31, tzinfo=UTC)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get(f"{API}/families/")
    assert response.status_code == 403
    assert response.json()["detail"] == "This token expired on 2026-01-31. Ask for a new one."


def test_a_deactivated_users_token_is_refused(api, staff_user):
    staff_user.is_active = False
    staff_user.save()
    response = api.get(f"{API}/families/")
    assert response.status_code == 403
    assert "deactivated" in response.json()["detail"]


def test_a_user_at_no_clinic_is_a_403_saying_why(db):
    response = token_client(factories.UserFactory()).get(f"{API}/families/")
    assert response.status_code == 403
    assert "not a member of any clinic" in response.json()["detail"]


# --- Scoping: clinic A sees and changes nothing of clinic B -------------------------------------------

LISTS = {"families": "family", "caregivers": "caregiver", "appointments": "appointment", "messages": "message"}


@pytest.mark.parametrize("endpoint", LISTS)
def test_every_list_shows_only_the_users_clinics_rows(api, ours, theirs, endpoint):
    assert ids(api.get(f"{API}/{endpoint}/")) == {ours[LISTS[endpoint]].pk}


# (method, path, body, the object it would change, and how to tell that it changed)
OBJECT_ACTIONS = [
    ("get", "families/{family}/", None),
    ("get", "caregivers/{caregiver}/", None),
    ("patch", "caregivers/{caregiver}/", {"tip_frequency": "daily"}),
    ("get", "appointments/{appointment}/", None),
    ("post", "appointments/{appointment}/reschedule/", {"starts_at": "2027-01-05T10:00:00-05:00"}),
    ("post", "appointments/{appointment}/cancel/", None),
    ("get", "messages/{message}/", None),
]


def _call(client, method, path, family, body):
    url = f"{API}/" + path.format(**{name: obj.pk for name, obj in family.items()})
    return getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)


def _snapshot(family) -> tuple:
    caregiver = Caregiver.objects.get(pk=family["caregiver"].pk)
    appointment = Appointment.objects.get(pk=family["appointment"].pk)
    return (caregiver.tip_frequency, appointment.starts_at, appointment.status)


@pytest.mark.parametrize(("method", "path", "body"), OBJECT_ACTIONS, ids=lambda v: v if isinstance(v, str) else "")
def test_another_clinics_object_is_a_404_and_stays_as_it_was(api, ours, theirs, method, path, body):
    before = _snapshot(theirs)
    response = _call(api, method, path, theirs, body)
    assert response.status_code == 404
    assert "at your clinics" in response.json()["detail"]
    assert _snapshot(theirs) == before
    # The same request on the user's own object works: the 404 is the scoping, not the route.
    assert _call(api, method, path, ours, body).status_code == 200


def test_an_id_that_never_existed_gets_the_same_answer_as_another_clinics(api, theirs):
    other = api.get(f"{API}/caregivers/{theirs['caregiver'].pk}/").json()["detail"]
    never = api.get(f"{API}/caregivers/999999/").json()["detail"]
    assert other.replace(str(theirs["caregiver"].pk), "N") == never.replace("999999", "N")


def test_filtering_by_another_clinics_family_finds_nothing(api, ours, theirs):
    other = theirs["family"].pk
    for endpoint in ("caregivers", "appointments", "messages"):
        assert ids(api.get(f"{API}/{endpoint}/", {"family": other})) == set(), endpoint


# --- Families ---------------------------------------------------------------------------------------------


def test_a_family_shows_its_caregivers_consent_and_appointments(api, ours):
    body = api.get(f"{API}/families/{ours['family'].pk}/").json()
    assert body["first_name"] == "Alex"
    [caregiver] = body["caregivers"]
    assert caregiver["status"] == "active"
    assert caregiver["consent"] == {"sms": "opt_in", "email": None}
    family = ours["family"].pk
    assert caregiver["families"] == [
        {"family": family, "loved_one": family, "first_name": "Alex", "relationship": "other"}
    ]
    assert [a["id"] for a in body["appointments"]] == [ours["appointment"].pk]


def test_searching_families_matches_a_caregivers_number_as_people_type_it(api, clinic, ours):
    casey = factories.LovedOneFactory(clinic=clinic, first_name="Casey")
    digits = ours["caregiver"].phone[-10:]
    typed = f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    assert ids(api.get(f"{API}/families/", {"q": typed})) == {ours["family"].pk}
    assert ids(api.get(f"{API}/families/", {"q": "case"})) == {casey.pk}


def enrollment(**overrides) -> dict:
    return {
        "first_name": "Morgan",
        "caregivers": [
            {"name": "Sam", "phone": "(202) 555-0143", "channels": "sms", "relationship": "partner"},
            {"name": "Jo", "phone": "+1 202 555 0144", "email": "jo@example.com", "channels": "both"},
        ],
        "appointments": [{"starts_at": in_three_days().isoformat(), "kind": "infusion", "duration_minutes": 90}],
        **overrides,
    }


def test_enrolling_a_family_leaves_caregivers_pending_until_each_channel_is_confirmed(api, clinic):
    response = api.post(f"{API}/families/", enrollment(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/families/{body['id']}/"
    assert body["clinic"] == clinic.pk
    assert {c["name"]: c["status"] for c in body["caregivers"]} == {"Sam": "pending", "Jo": "pending"}
    assert len(body["appointments"]) == 1
    asked = set(ChannelConfirmation.objects.values_list("caregiver__name", "channel"))
    assert asked == {("Sam", "sms"), ("Jo", "sms"), ("Jo", "email")}


def test_a_bad_phone_number_is_a_400_next_to_that_caregiver_and_nothing_is_saved(api):
    body = enrollment()
    body["caregivers"][0]["phone"] = "12345"
    response = api.post(f"{API}/families/", body, format="json")
    assert response.status_code == 400
    assert "12345" in response.json()["caregivers.0.phone"][0]
    assert not any(key.startswith("caregivers.1") for key in response.json())
    assert not LovedOne.objects.exists()
    assert not Caregiver.objects.exists()


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"caregivers": [{"name": "Sam", "channels": "sms", "nickname": "S"}]}, "caregivers.0.nickname"),
        ({"caregivers": [{"name": "Sam", "channels": "pigeon"}]}, "caregivers.0.channels"),
        ({"appointments": [{"starts_at": "2027-01-05T10:00:00"}]}, "appointments.0.starts_at"),
        ({"first_name": ""}, "first_name"),
        ({"ward": "7B"}, "ward"),
    ],
)
def test_a_bad_enrollment_is_a_400_keyed_by_the_field_at_fault(api, change, key):
    response = api.post(f"{API}/families/", enrollment(**change), format="json")
    assert response.status_code == 400
    assert key in response.json()
    assert not LovedOne.objects.exists()


def test_a_member_of_two_clinics_says_which_clinic_the_family_joins(api, staff_user, other_clinic):
    factories.StaffMembershipFactory(user=staff_user, clinic=other_clinic)
    unsaid = api.post(f"{API}/families/", enrollment(), format="json")
    assert unsaid.status_code == 400
    assert "several clinics" in unsaid.json()["clinic"][0]
    said = api.post(f"{API}/families/", enrollment(clinic=other_clinic.pk), format="json")
    assert said.status_code == 201
    assert said.json()["clinic"] == other_clinic.pk


def test_a_family_cannot_be_enrolled_at_someone_elses_clinic(api, other_clinic):
    response = api.post(f"{API}/families/", enrollment(clinic=other_clinic.pk), format="json")
    assert response.status_code == 400
    assert "clinic" in response.json()
    assert not LovedOne.objects.exists()


def test_families_cannot_be_deleted(api, ours):
    assert api.delete(f"{API}/families/{ours['family'].pk}/").status_code == 405
    assert LovedOne.objects.filter(pk=ours["family"].pk).exists()


# --- Caregivers ---------------------------------------------------------------------------------------------


def test_caregivers_filter_by_status_and_family(api, clinic, ours):
    other_family = family_at(clinic, name="Casey")
    Caregiver.objects.filter(pk=other_family["caregiver"].pk).update(status=Caregiver.Status.PAUSED)
    assert ids(api.get(f"{API}/caregivers/", {"status": "paused"})) == {other_family["caregiver"].pk}
    assert ids(api.get(f"{API}/caregivers/", {"family": ours["family"].pk})) == {ours["caregiver"].pk}
    bad = api.get(f"{API}/caregivers/", {"status": "asleep"})
    assert bad.status_code == 400
    assert bad.json()["parameter"] == "status"


def test_staff_change_a_caregivers_preferences(api, ours):
    url = f"{API}/caregivers/{ours['caregiver'].pk}/"
    response = api.patch(url, {"tip_frequency": "weekly", "quiet_start": "20:30"}, format="json")
    assert response.status_code == 200
    assert response.json()["tip_frequency"] == "weekly"
    ours["caregiver"].refresh_from_db()
    assert (ours["caregiver"].tip_frequency, ours["caregiver"].quiet_start.hour) == ("weekly", 20)


def test_the_api_refuses_quiet_hours_the_preferences_page_would_refuse(api, ours):
    """Found by the outside tester: the API took 12:00 to 12:00, and the caregiver's own page then
    refused every save on a field they never touched. One rule for both."""
    url = f"{API}/caregivers/{ours['caregiver'].pk}/"
    response = api.patch(url, {"quiet_start": "12:00", "quiet_end": "12:00"}, format="json")
    assert response.status_code == 400
    assert response.json()["quiet_end"] == ["Quiet hours need a different start and end."]


def test_a_patch_naming_a_field_that_cannot_be_changed_is_a_400_naming_it(api, ours):
    response = api.patch(f"{API}/caregivers/{ours['caregiver'].pk}/", {"status": "active", "name": "X"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["status"]
    assert "“status” is not a field you can send here" in response.json()["status"][0]
    ours["caregiver"].refresh_from_db()
    assert ours["caregiver"].name != "X"


def test_a_patch_with_a_bad_number_says_what_is_wrong_with_it(api, ours):
    response = api.patch(f"{API}/caregivers/{ours['caregiver'].pk}/", {"phone": "555"}, format="json")
    assert response.status_code == 400
    assert "555" in response.json()["phone"][0]


def test_caregivers_cannot_be_replaced_wholesale(api, ours):
    assert api.put(f"{API}/caregivers/{ours['caregiver'].pk}/", {}, format="json").status_code == 405


# --- Appointments --------------------------------------------------------------------------------------


def test_staff_add_an_appointment_for_one_of_their_families(api, ours):
    starts = in_three_days(14)
    response = api.post(
        f"{API}/appointments/",
        {"loved_one": ours["family"].pk, "starts_at": starts.isoformat(), "kind": "booster"},
        format="json",
    )
    assert response.status_code == 201
    made = Appointment.objects.get(pk=response.json()["id"])
    assert (made.loved_one, made.starts_at, made.kind) == (ours["family"], starts, "booster")


def test_an_appointment_for_another_clinics_family_is_a_400_that_reveals_nothing(api, theirs):
    starts = in_three_days().isoformat()
    other = api.post(f"{API}/appointments/", {"loved_one": theirs["family"].pk, "starts_at": starts}, format="json")
    never = api.post(f"{API}/appointments/", {"loved_one": 999999, "starts_at": starts}, format="json")
    assert other.status_code == never.status_code == 400
    assert other.json()["loved_one"] == [f"No family with id {theirs['family'].pk} was found."]
    assert never.json()["loved_one"] == ["No family with id 999999 was found."]
    assert Appointment.objects.filter(loved_one=theirs["family"]).count() == 1


@pytest.mark.parametrize("path", ["appointments/", "appointments/{appointment}/reschedule/"])
def test_a_time_without_its_offset_is_a_400_asking_for_one(api, ours, path):
    url = f"{API}/" + path.format(appointment=ours["appointment"].pk)
    body = {"starts_at": "2027-01-05T10:00:00"} | ({} if "{" in path else {"loved_one": ours["family"].pk})
    response = api.post(url, body, format="json")
    assert response.status_code == 400
    assert "time zone offset" in response.json()["starts_at"][0]


def test_rescheduling_moves_the_appointment(api, ours):
    url = f"{API}/appointments/{ours['appointment'].pk}/reschedule/"
    response = api.post(url, {"starts_at": "2027-01-05T10:00:00-05:00", "duration_minutes": 120}, format="json")
    assert response.status_code == 200
    assert response.json()["starts_at"] == "2027-01-05T15:00:00Z"
    ours["appointment"].refresh_from_db()
    assert ours["appointment"].starts_at == datetime(2027, 1, 5, 15, 0, tzinfo=UTC)
    assert ours["appointment"].duration_minutes == 120


def test_cancelling_an_appointment_and_then_it_cannot_be_rescheduled(api, ours):
    base = f"{API}/appointments/{ours['appointment'].pk}"
    assert api.post(f"{base}/cancel/").json()["status"] == "cancelled"
    ours["appointment"].refresh_from_db()
    assert ours["appointment"].status == Appointment.Status.CANCELLED
    response = api.post(f"{base}/reschedule/", {"starts_at": "2027-01-05T10:00:00-05:00"}, format="json")
    assert response.status_code == 400
    assert "cancelled appointment cannot be rescheduled" in response.json()["non_field_errors"][0]


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_appointments_change_only_through_their_actions(api, ours, method):
    response = getattr(api, method)(f"{API}/appointments/{ours['appointment'].pk}/", {}, format="json")
    assert response.status_code == 405


def test_appointments_filter_by_time_window_and_status(api, ours):
    later = factories.AppointmentFactory(loved_one=ours["family"], starts_at=timezone.now() + timedelta(days=30))
    cutoff = (timezone.now() + timedelta(days=10)).isoformat()
    assert ids(api.get(f"{API}/appointments/", {"from": cutoff})) == {later.pk}
    assert ids(api.get(f"{API}/appointments/", {"to": cutoff})) == {ours["appointment"].pk}
    assert ids(api.get(f"{API}/appointments/", {"status": "cancelled"})) == set()
    naive = api.get(f"{API}/appointments/", {"from": "2027-01-05T10:00:00"})
    assert naive.status_code == 400
    assert naive.json()["parameter"] == "from"


# --- Messages ------------------------------------------------------------------------------------------


def test_the_outbox_filters_by_family_newest_first(api, clinic, ours):
    casey = family_at(clinic, name="Casey")
    newer = factories.OutboundMessageFactory(caregiver=ours["caregiver"], send_at=timezone.now() + timedelta(hours=1))
    response = api.get(f"{API}/messages/", {"family": ours["family"].pk})
    assert [m["id"] for m in response.json()["results"]] == [newer.pk, ours["message"].pk]
    assert casey["message"].pk not in ids(api.get(f"{API}/messages/", {"family": ours["family"].pk}))


def test_a_message_shows_its_text_but_never_its_html(api, ours):
    factories.OutboundMessageFactory(
        caregiver=ours["caregiver"], channel="email", kind="tip", subject="A tip", body="Plain", html="<p>Plain</p>"
    )
    [email] = api.get(f"{API}/messages/", {"kind": "tip"}).json()["results"]
    assert email["text"] == "A tip"
    assert "html" not in email
    assert "<p>" not in str(email)


def test_a_sign_up_code_in_the_outbox_is_not_shown_to_staff(api, ours):
    factories.OutboundMessageFactory(
        caregiver=ours["caregiver"], kind="confirmation", body="Alongside: your code is 482913. It expires soon."
    )
    [confirmation] = api.get(f"{API}/messages/", {"kind": "confirmation"}).json()["results"]
    assert "482913" not in confirmation["text"]


# --- Pagination and the schema --------------------------------------------------------------------------------


def test_pages_hold_what_was_asked_and_more_than_100_is_a_400(api, clinic):
    for name in ("Ana", "Ben", "Cy"):
        factories.LovedOneFactory(clinic=clinic, first_name=name)
    first = api.get(f"{API}/families/", {"page_size": 2}).json()
    assert (first["count"], len(first["results"])) == (3, 2)
    assert [f["first_name"] for f in api.get(first["next"]).json()["results"]] == ["Cy"]
    too_big = api.get(f"{API}/families/", {"page_size": 101})
    assert too_big.status_code == 400
    assert too_big.json()["parameter"] == "page_size"
    assert api.get(f"{API}/families/", {"page": "²"}).json()["parameter"] == "page"
    past_the_end = api.get(f"{API}/families/", {"page": 3, "page_size": 2})
    assert past_the_end.status_code == 404
    assert past_the_end.json()["detail"] == "Page 3 does not exist: there are 2 pages of 2."


def test_the_schema_describes_the_staff_api_and_how_to_authenticate(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path, methods in {
        "/api/v1/families/": {"get", "post"},
        "/api/v1/families/{id}/": {"get"},
        "/api/v1/caregivers/{id}/": {"get", "patch"},
        "/api/v1/appointments/": {"get", "post"},
        "/api/v1/appointments/{id}/reschedule/": {"post"},
        "/api/v1/appointments/{id}/cancel/": {"post"},
        "/api/v1/messages/": {"get"},
    }.items():
        assert set(schema["paths"][path]) == methods, path
        assert {"StaffToken": []} in schema["paths"][path][next(iter(methods))]["security"]
    assert schema["components"]["securitySchemes"]["StaffToken"]["name"] == "Authorization"


@pytest.mark.parametrize("endpoint", LISTS)
def test_a_list_page_costs_the_same_queries_however_many_families(api, clinic, endpoint):
    family_at(clinic, name="Ana")
    api.get(f"{API}/{endpoint}/")  # the token's first use of the minute writes last_used_at
    with CaptureQueriesContext(connection) as few:
        assert api.get(f"{API}/{endpoint}/").status_code == 200
    for name in ("Ben", "Cy", "Dee", "Eli"):
        family_at(clinic, name=name)
    with CaptureQueriesContext(connection) as many:
        assert len(ids(api.get(f"{API}/{endpoint}/"))) == 5
    assert len(many) == len(few)
