"""Oversized and malformed input on every form and endpoint: a 4xx that says what is wrong, never a 500.

A browser form answers with the form again, status 400, and the error next to the field; the APIs
answer with JSON naming the field or parameter; webhooks with a line of plain text. The Django test
client re-raises a view's exception, so a crash fails here with its traceback rather than as a 500.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey
from twilio.request_validator import RequestValidator

from caregiver.models import Appointment, Caregiver
from caregiver.tokens import preferences_token, unsubscribe_token
from tests import factories
from tests.clients import token_client
from tests.forms import enrollment
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db
MB = 1024 * 1024
HUGE = "x" * 100_000


def refused(response, *says: str, status: int | tuple[int, ...] = 400) -> str:
    """The answer is the expected 4xx and contains every phrase, as a person (or a program) reads it."""
    expected = status if isinstance(status, tuple) else (status,)
    assert response.status_code in expected, (response.status_code, response.content[:500])
    if response["Content-Type"].startswith("application/json"):
        body = json.dumps(response.json(), ensure_ascii=False)
    elif response["Content-Type"].startswith("text/html"):
        body = text(response)
    else:
        body = response.content.decode()
    for phrase in says:
        assert phrase in body, (phrase, body[-3000:])
    return body


@pytest.fixture
def clinic(db):
    # No content library here: loading it takes a second, and a refused request never renders a message.
    return factories.ClinicFactory(name="Riverside Clinic", enrollment_code="RIVER234", time_zone="America/New_York")


@pytest.fixture
def staff_user(clinic):
    membership = factories.StaffMembershipFactory(clinic=clinic, user__username="dana")
    return membership.user


@pytest.fixture
def staff(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def family(clinic):
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    caregiver = factories.CaregiverFactory(clinic=clinic, name="Jordan Rivera", phone="+12025550143")
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    factories.ConsentRecordFactory(caregiver=caregiver)
    appointment = factories.AppointmentFactory(loved_one=loved_one)
    return {"family": loved_one, "caregiver": caregiver, "appointment": appointment}


# --- Caregiver sign-up ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "says"),
    [
        (HUGE, "Ensure this value has at most 16 characters (it has 100000)."),
        ("RIVER\x00234", "Null characters are not allowed."),
        ("", "This field is required."),
        ("NOPE1234", "We don't know that code."),
    ],
)
def test_join_start_explains_a_bad_clinic_code(client, clinic, code, says):
    refused(client.post("/join/", {"code": code}), says)


@pytest.mark.parametrize("code", ["RIVER%00234", "%00", "A" * 5000, "..%2F..%2Fetc", "RÍVER234", "%F0%9F%92%A9"])
@pytest.mark.parametrize("page", ["", "confirm/", "done/"])
def test_a_junk_clinic_code_in_the_address_is_a_404(client, clinic, code, page):
    assert client.get(f"/join/{code}/{page}").status_code == 404


SIGN_UP = {
    "name": "Sam Rivera",
    "phone": "(202) 555-0143",
    "email": "",
    "channels": "sms",
    "loved_one": "Alex",
    "relationship": "partner",
    "time_zone": "America/New_York",
    "consent": "on",
}


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"name": HUGE}, "Ensure this value has at most 80 characters (it has 100000)."),
        ({"name": "Sam\x00Rivera"}, "Null characters are not allowed."),
        ({"name": "   "}, "This field is required."),
        ({"phone": "1" * 5000}, "Ensure this value has at most 32 characters (it has 5000)."),
        ({"phone": "☎☎☎ ☎☎☎"}, "“☎☎☎ ☎☎☎” is not a phone number."),
        ({"phone": "+1 202 555 0143\x00"}, "Null characters are not allowed."),
        ({"email": "a" * 300 + "@example.com"}, "Ensure this value has at most 254 characters"),
        ({"email": "not an address", "channels": "email"}, "Enter a valid email address."),
        ({"loved_one": "y" * 1000}, "Ensure this value has at most 40 characters (it has 1000)."),
        ({"time_zone": "Mars/Olympus_Mons"}, "Select a valid choice. Mars/Olympus_Mons is not one of the available"),
        ({"time_zone": "../../etc/passwd"}, "Select a valid choice."),
        ({"channels": "carrier pigeon"}, "Select a valid choice."),
        ({"relationship": "nemesis"}, "Select a valid choice."),
        ({"consent": ""}, "Tick the box to agree, or we can't send you anything."),
    ],
)
def test_sign_up_explains_bad_input_next_to_the_field(client, clinic, changes, says):
    refused(client.post("/join/RIVER234/", {**SIGN_UP, **changes}), says)
    assert not Caregiver.objects.exists()


def test_an_empty_sign_up_names_every_missing_field(client, clinic):
    body = refused(client.post("/join/RIVER234/", {}), "This field is required.")
    assert body.count("This field is required.") >= 5


def test_a_sign_up_form_of_megabytes_is_refused_with_a_reason(client, clinic):
    response = client.post(
        "/join/RIVER234/",
        urlencode({**SIGN_UP, "name": "x" * (3 * MB)}),
        content_type="application/x-www-form-urlencoded",
    )
    refused(response, "The request is too large: we accept at most 2.5 MB of form or JSON data.", status=413)


def test_a_form_with_thousands_of_fields_is_refused_with_a_reason(client, clinic):
    fields = {**SIGN_UP, **{f"extra{i}": "1" for i in range(1500)}}
    refused(client.post("/join/RIVER234/", fields), "The request has too many fields: we accept at most 1000.")


def test_a_form_that_is_not_utf8_is_read_without_crashing(client, clinic):
    body = b"name=S%FF%FEm&phone=%28202%29+555-0143&channels=sms&loved_one=%C0%C1&relationship=partner"
    response = client.post("/join/RIVER234/", body, content_type="application/x-www-form-urlencoded")
    refused(response, "Tick the box to agree")


@pytest.fixture
def signed_up(client, clinic, content):
    """A caregiver mid sign-up, on the code page."""
    response = client.post("/join/RIVER234/", SIGN_UP)
    assert response.status_code == 302
    return Caregiver.objects.get()


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("9" * 10_000, "Ensure this value has at most 20 characters (it has 10000)."),
        ("12\x003456", "Null characters are not allowed."),
        ("abcdef", "Enter the 6 digits from the text message."),
        ("", "This field is required."),
    ],
)
def test_the_code_page_explains_a_bad_code(client, signed_up, code, says):
    refused(client.post("/join/RIVER234/confirm/", {"code": code}), says)


def test_the_code_page_ignores_an_unknown_action(client, signed_up):
    refused(client.post("/join/RIVER234/confirm/", {"action": "x" * 10_000, "code": "abc"}), "Enter the 6 digits")


@pytest.mark.parametrize("token", ["%00", "x" * 5000, "eyJrIjoxfQ:1abc:def", "..%2F..", "😀"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_junk_email_link_is_a_404(client, db, token, method):
    assert getattr(client, method)(f"/email/confirm/{token}/").status_code == 404


# --- Preferences ------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["%00", "x" * 5000, "eyJjIjoxfQ:1abc:def", "😀"])
def test_a_junk_preferences_link_is_a_404(client, db, token):
    assert client.get(f"/p/{token}/").status_code == 404
    assert client.post(f"/p/{token}/", {"action": "stop"}).status_code == 404


PREFS = {
    "sms": "on",
    "tip_frequency": "weekly",
    "tip_time": "10:00",
    "quiet_start": "21:00",
    "quiet_end": "08:00",
    "time_zone": "America/New_York",
}


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"tip_time": "25:99"}, "Enter a valid time."),
        ({"tip_time": HUGE}, "Enter a valid time."),
        ({"quiet_start": "21:00\x00"}, "Enter a valid time."),
        ({"quiet_end": "21:00"}, "Quiet hours need a different start and end."),
        ({"time_zone": "Mars/Olympus_Mons"}, "Select a valid choice."),
        ({"tip_frequency": "hourly"}, "Select a valid choice."),
        ({"sms": ""}, "Choose text messages, email or both."),
        ({"action": "pause", "days": str(10**30)}, "Select a valid choice."),
        ({"action": "pause", "days": "-7"}, "Select a valid choice."),
    ],
)
def test_preferences_explain_bad_input(client, family, changes, says):
    url = f"/p/{preferences_token(family['caregiver'].pk, address=family['caregiver'].phone)}/"
    refused(client.post(url, {**PREFS, **changes}), says)


def test_an_unknown_preferences_action_changes_nothing(client, family):
    url = f"/p/{preferences_token(family['caregiver'].pk, address=family['caregiver'].phone)}/"
    assert client.post(url, {"action": "x" * 10_000}).status_code == 400
    assert Caregiver.objects.get().status == Caregiver.Status.ACTIVE


# --- Staff login ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [
        {"username": HUGE, "password": "x"},
        {"username": "dana\x00", "password": "x"},
        {"username": "dana", "password": "p" * MB},
        {"username": "dana"},
        {},
    ],
)
def test_staff_login_with_a_junk_form_says_only_that_they_do_not_match(client, staff_user, form):
    # A sign-in form must not say which half was wrong, nor echo a pasted page back.
    refused(client.post("/staff/login/", form), "That username and password don't match.", status=(200, 400))


# --- Staff pages: enroll, appointments, course ---------------------------------------------------------


def _enroll(for_clinic, **changes) -> dict:
    form = enrollment(
        clinic=str(for_clinic.pk),
        loved_one="Alex",
        caregivers=[{"name": "Sam", "phone": "(202) 555-0143", "relationship": "partner", "channels": "sms"}],
        appointments=[{"day": "", "at": "", "kind": "infusion", "duration_minutes": "60"}],
    )
    form.update(changes)
    return {name: value for name, value in form.items() if value is not None}


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"loved_one": "A\x00lex"}, "Null characters are not allowed."),
        ({"loved_one": HUGE}, "Ensure this value has at most 40 characters (it has 100000)."),
        ({"caregivers-0-phone": "9" * 5000}, "Ensure this value has at most 32 characters (it has 5000)."),
        ({"caregivers-0-name": "S\x00m"}, "Null characters are not allowed."),
        ({"caregivers-TOTAL_FORMS": None}, "(Hidden field TOTAL_FORMS) This field is required."),
        ({"caregivers-TOTAL_FORMS": "many"}, "(Hidden field TOTAL_FORMS) Enter a whole number."),
        ({"caregivers-TOTAL_FORMS": str(10**9)}, "Please submit at most 6 forms."),
        ({"clinic": "abc"}, "Select a valid choice."),
        ({"appointments-0-day": "2026-02-30", "appointments-0-at": "10:00"}, "Enter a valid date."),
        ({"appointments-0-day": "9999-12-31", "appointments-0-at": "23:30"}, "too far in the future or the past"),
        ({"appointments-0-day": "9999-12-30", "appointments-0-at": "10:00"}, "Check the year"),
        (
            {
                "appointments-0-day": "2027-01-05",
                "appointments-0-at": "10:00",
                "appointments-0-duration_minutes": "1e9",
            },
            "Enter a whole number.",
        ),
    ],
)
def test_enrolling_explains_bad_input(staff, clinic, changes, says):
    refused(staff.post("/staff/families/new/", _enroll(clinic, **changes)), says)
    assert not Caregiver.objects.exists()


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"new-day": "31/31/2026", "new-at": "10:00", "new-duration_minutes": "60"}, "Enter a valid date."),
        ({"new-day": "2027-01-05", "new-at": "25:00", "new-duration_minutes": "60"}, "Enter a valid time."),
        ({"new-day": "9999-12-31", "new-at": "23:30", "new-duration_minutes": "60"}, "too far in the future"),
        ({"new-day": "9999-12-31", "new-at": "10:00", "new-duration_minutes": "60"}, "Check the year"),
        ({"new-day": "0001-01-01", "new-at": "00:00", "new-duration_minutes": "60"}, "Check the year"),
        (
            {"new-day": "2027-01-05", "new-at": "10:00", "new-duration_minutes": str(10**30)},
            "less than or equal to 600",
        ),
        ({"new-day": "2027-01-05", "new-at": "10:00", "new-duration_minutes": "-5"}, "greater than or equal to 5"),
        ({"new-day": "2027-01-05", "new-at": "10:00", "new-duration_minutes": "60", "new-kind": "x"}, "Select a valid"),
        ({"new-day": HUGE, "new-at": HUGE, "new-duration_minutes": HUGE}, "Enter a valid date."),
    ],
)
def test_adding_an_appointment_explains_bad_input(staff, family, form, says):
    form = {"new-kind": "infusion", **form}
    refused(staff.post(f"/staff/families/{family['family'].pk}/", form), says)
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"day": "2027-13-01", "at": "10:00", "duration_minutes": "60"}, "Enter a valid date."),
        ({"day": "9999-12-31", "at": "23:59", "duration_minutes": "60"}, "too far in the future"),
        ({"day": "9999-12-31", "at": "10:00", "duration_minutes": "60"}, "Check the year"),
        ({"day": "2027-01-05", "at": "10:00", "duration_minutes": ""}, "This field is required."),
        ({"day": "2027-01-05\x00", "at": "10:00", "duration_minutes": "60"}, "Enter a valid date."),
    ],
)
def test_rescheduling_explains_bad_input(staff, family, form, says):
    appointment = family["appointment"]
    refused(staff.post(f"/staff/appointments/{appointment.pk}/reschedule/", form), says)
    before = appointment.starts_at
    appointment.refresh_from_db()
    assert appointment.starts_at == before


@pytest.mark.parametrize("query", [{"q": "Al\x00ex"}, {"q": HUGE}, {"page": "\x00"}, {"page": str(10**30)}, {"q": "%"}])
def test_the_families_page_answers_any_search(staff, family, query):
    response = staff.get("/staff/", query)
    assert response.status_code in (200, 400)
    assert "Families" in text(response)


@pytest.mark.parametrize("pk", ["999999", str(10**30)])
def test_a_junk_appointment_or_family_id_is_a_404(staff, family, pk):
    assert staff.post(f"/staff/appointments/{pk}/cancel/").status_code == 404
    assert staff.get(f"/staff/appointments/{pk}/reschedule/").status_code == 404
    assert staff.get(f"/staff/families/{pk}/").status_code == 404
    assert staff.post(f"/staff/caregivers/{pk}/reinvite/").status_code == 404


def test_cancelling_by_get_is_a_405(staff, family):
    assert staff.get(f"/staff/appointments/{family['appointment'].pk}/cancel/").status_code == 405


def _course(**changes) -> dict:
    form = {
        "step": "pattern",
        "pattern-first_day": (timezone.localdate() + timedelta(days=7)).isoformat(),
        "pattern-at": "10:00",
        "pattern-weekdays": ["0", "2", "4"],
        "pattern-sessions": "6",
        "pattern-maintenance_sessions": "0",
        "pattern-maintenance_every_weeks": "4",
        "pattern-duration_minutes": "60",
    }
    form.update(changes)
    return form


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"pattern-first_day": "9999-12-25"}, "Check the year"),
        ({"pattern-first_day": "9999-12-01", "pattern-maintenance_sessions": "24"}, "Check the year"),
        ({"pattern-weekdays": ["7"]}, "Select a valid choice. 7 is not one of the available choices."),
        ({"pattern-weekdays": ["monday"]}, "Select a valid choice."),
        ({"pattern-sessions": str(10**30)}, "less than or equal to 24"),
        ({"pattern-first_day": "2000-01-01"}, "The first infusion can't be in the past."),
        ({"pattern-at": HUGE}, "Enter a valid time."),
        ({"step": "sessions", "sessions-TOTAL_FORMS": "x"}, "(Hidden field TOTAL_FORMS) Enter a whole number."),
        (
            {
                "step": "sessions",
                "sessions-TOTAL_FORMS": "1",
                "sessions-INITIAL_FORMS": "0",
                "sessions-0-include": "on",
                "sessions-0-day": "9999-12-31",
                "sessions-0-at": "23:30",
                "sessions-0-kind": "infusion",
            },
            "too far in the future",
        ),
    ],
)
def test_planning_a_course_explains_bad_input(staff, family, changes, says):
    refused(staff.post(f"/staff/families/{family['family'].pk}/course/", _course(**changes)), says)
    assert Appointment.objects.count() == 1


# --- CSV import -------------------------------------------------------------------------------------

HEADER = "family,loved_one,caregiver_name,caregiver_phone,channels,appointment\n"


def _upload(staff, clinic, content: bytes, name: str = "families.csv"):
    upload = io.BytesIO(content)
    upload.name = name
    return staff.post("/staff/import/", {"file": upload, "clinic": clinic.pk})


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ((HEADER + "A,Alex,Sam,(202) 555-0143,sms,\n") * 20_000, "The file is larger than 1 MB."),
        (HEADER.encode("utf-16"), "The file is not UTF-8 text."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20, "The file is not UTF-8 text."),
        (b"name,phone\nSam,202\n", "missing: family, loved_one"),
        (HEADER.encode(), "The file has no rows under the header."),
        (b"", "The submitted file is empty."),
        ((HEADER + "A,Alex,,,,\n" * 2001).encode(), "The file has more than 2000 rows."),
        (b'family,loved_one\nA,"' + b"x" * 200_000 + b'"\n', "The file is not valid CSV"),
        (b"family,loved_one\nA,Al\x00ex\n", "Line 2 has a NUL character, so this is not a CSV file."),
        (b"family,loved_one,caregiver_name\nA,Alex,Sam\nB,Bo,S\x00m\n", "Line 3 has a NUL character"),
        (b"family,loved_one,appointment\nA,Alex,9999-12-31 23:30\n", "too far in the future or the past"),
        (b"family,loved_one,appointment\nA,Alex,9999-12-31 10:00\n", "Check the year"),
        (b"family,loved_one,appointment,duration_minutes\nA,Alex,2027-01-05 10:00,99999999999999999999\n", "600"),
        (b"family,loved_one,caregiver_name,caregiver_phone\nA,Alex,Sam," + b"9" * 500 + b"\n", "too many digits"),
    ],
)
def test_a_bad_csv_file_is_explained_and_nothing_is_saved(staff, clinic, content, says):
    content = content.encode() if isinstance(content, str) else content
    refused(_upload(staff, clinic, content), says)
    assert not Caregiver.objects.exists()


def test_an_import_with_no_file_is_explained(staff, clinic):
    refused(staff.post("/staff/import/", {"clinic": clinic.pk}), "This field is required.")


def test_an_import_for_a_clinic_that_is_not_yours_is_explained(staff, clinic, other_clinic):
    refused(_upload(staff, other_clinic, HEADER.encode() + b"A,Alex,,,,\n"), "Select a valid choice.")


def test_importing_without_a_preview_is_explained(staff, clinic):
    response = staff.post("/staff/import/", {"step": "import"}, follow=True)
    assert "The preview has expired. Upload the file again." in text(response)


# --- Tip API ----------------------------------------------------------------------------------------


@pytest.fixture
def tips(content) -> APIClient:
    _, key = APIKey.objects.create_key(name="fuzz")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.mark.parametrize(
    ("query", "parameter", "says"),
    [
        ({"page_size": 10**9}, "page_size", "Ensure this value is less than or equal to 100."),
        ({"page_size": -1}, "page_size", "Ensure this value is greater than or equal to 1."),
        ({"page_size": "abc"}, "page_size", "A valid integer is required."),
        ({"page_size": "9" * 5000}, "page_size", "String value too large."),
        ({"page": 0}, "page", "Ensure this value is greater than or equal to 1."),
        ({"page": "½"}, "page", "A valid integer is required."),
        ({"search": HUGE}, "search", "Ensure this field has no more than 200 characters."),
        ({"search": "ride\x00"}, "search", "Null characters are not allowed."),
        ({"category": "../etc"}, "category", "consisting of letters, numbers, underscores or hyphens."),
        ({"category": "recipes"}, "category", "“recipes” is not a category."),
        ({"tag": "no-such-tag"}, "tag", "“no-such-tag” is not a tag of any tip."),
        ({"language": "x" * 100}, "language", "is not a language we have. Use one of: en, es."),
        ({"language": "fr"}, "language", "“fr” is not a language we have."),
        ({"updated_since": "yesterday"}, "updated_since", "is not an ISO 8601 date or date-time"),
        ({"updated_since": "2026-02-30"}, "updated_since", "is not an ISO 8601 date or date-time"),
    ],
)
def test_a_bad_tip_query_is_a_400_naming_the_parameter(tips, content, query, parameter, says):
    body = refused(tips.get("/api/v1/tips/", query), says)
    assert json.loads(body)["parameter"] == parameter


def test_a_page_far_past_the_end_is_a_404(tips, content):
    refused(
        tips.get("/api/v1/tips/", {"page": 10**6}), "Page 1000000 does not exist: there are 4 pages of 20.", status=404
    )


@pytest.mark.postgres
@pytest.mark.parametrize("page", [10**18, 10**30])
def test_a_page_beyond_any_database_is_a_4xx(tips, content, page):
    refused(tips.get("/api/v1/tips/", {"page": page}), "page", status=(400, 404))


@pytest.mark.parametrize("since", ["9999-12-31", "0001-01-01", "2026-11-01T09:30:00+14:00"])
def test_an_updated_since_at_the_ends_of_the_calendar_is_answered(tips, content, since):
    assert tips.get("/api/v1/tips/", {"updated_since": since}).status_code == 200


@pytest.mark.postgres
@pytest.mark.parametrize("since", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2026-11-01T09:30+20:00"])
def test_an_updated_since_with_an_impossible_offset_is_a_400(tips, content, since):
    refused(tips.get("/api/v1/tips/", {"updated_since": since}), "updated_since")


def test_an_unknown_tip_filter_is_a_400_naming_it(tips, content):
    body = refused(tips.get("/api/v1/tips/", {"categroy": "what-to-say"}), "categroy")
    assert json.loads(body)["parameter"] == "categroy"


def test_an_empty_tip_filter_is_a_400_naming_it(tips, content):
    body = refused(tips.get("/api/v1/categories/", {"language": ""}), "language")
    assert json.loads(body)["parameter"] == "language"


@pytest.mark.parametrize("slug", ["x" * 5000, "%00", "..%2F..%2Fetc"])
def test_a_junk_tip_slug_is_a_json_404(tips, content, slug):
    refused(tips.get(f"/api/v1/tips/{slug}/"), "detail", status=404)


# --- Staff API --------------------------------------------------------------------------------------


@pytest.fixture
def api(staff_user) -> APIClient:
    return token_client(staff_user, name="fuzz")


FAMILY = {
    "first_name": "Alex",
    "caregivers": [{"name": "Sam", "phone": "(202) 555-0143", "channels": "sms"}],
    "appointments": [{"starts_at": "2027-01-05T10:00:00-05:00"}],
}


def _post_raw(api, path: str, body: bytes | str, content_type: str = "application/json"):
    return api.generic("POST", path, body, content_type=content_type)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        ("{not json", "application/json", 400, "JSON parse error"),
        ('{"first_name": "Alex",}', "application/json", 400, "JSON parse error"),
        (b"\xff\xfe\x00{", "application/json", 400, "JSON parse error"),
        ("[" * 100_000 + "]" * 100_000, "application/json", 400, "JSON parse error"),
        ('{"a":' * 50_000 + "1" + "}" * 50_000, "application/json", 400, "JSON parse error"),
        ('{"first_name": ' + "9" * 10_000 + "}", "application/json", 400, "JSON parse error"),
        ("NaN", "application/json", 400, "JSON parse error"),
        (json.dumps({**FAMILY, "first_name": "Zoë"}), "application/json; charset=utf-16", 400, "JSON parse error"),
        (json.dumps(FAMILY), "text/plain", 415, 'Unsupported media type \\"text/plain\\" in request.'),
        (urlencode({"first_name": "Alex"}), "application/x-www-form-urlencoded", 415, "Unsupported media type"),
        (json.dumps({**FAMILY, "first_name": "x" * (3 * MB)}), "application/json", 413, "at most 2.5 MB"),
    ],
)
def test_a_body_that_is_not_json_is_refused_with_a_reason(api, clinic, body, content_type, status, says):
    refused(_post_raw(api, "/api/v1/families/", body, content_type), says, status=status)
    assert not Caregiver.objects.exists()


def _caregiver(**fields) -> dict:
    return {**FAMILY, "caregivers": [{"name": "Sam", "phone": "(202) 555-0143", "channels": "sms", **fields}]}


def _appointment(**fields) -> dict:
    return {**FAMILY, "appointments": [{"starts_at": "2027-01-05T10:00:00-05:00", **fields}]}


@pytest.mark.parametrize(
    ("body", "key", "says"),
    [
        ([], "non_field_errors", "Invalid data. Expected a dictionary, but got list."),
        ("Alex", "non_field_errors", "Invalid data. Expected a dictionary, but got str."),
        ({**FAMILY, "first_name": ["Alex"]}, "first_name", "Not a valid string."),
        ({**FAMILY, "first_name": 0}, "first_name", "Not a valid string."),
        (_caregiver(phone=2025550143), "caregivers.0.phone", "Not a valid string."),
        ({**FAMILY, "first_name": "x" * 500_000}, "first_name", "Ensure this value has at most 40 characters"),
        ({**FAMILY, "first_name": "Al\x00ex"}, "first_name", "Null characters are not allowed."),
        ({**FAMILY, "caregivers": "Sam"}, "caregivers", "Expected a list of items but got type"),
        ({**FAMILY, "caregivers": [FAMILY["caregivers"][0]] * 10_000}, "caregivers", "no more than 20 elements"),
        (_caregiver(name={"nested": ["junk", {"deeper": None}]}), "caregivers.0.name", "Not a valid string."),
        (_caregiver(phone="9" * 50_000), "caregivers.0.phone", "has too many digits for a phone number."),
        (_caregiver(colour="blue"), "caregivers.0.colour", "“colour” is not a field you can send here."),
        (_caregiver(time_zone="Mars/Base"), "caregivers.0.time_zone", "“Mars/Base” is not a time zone name."),
        (_appointment(starts_at="2027-01-05T10:00:00"), "appointments.0.starts_at", "Include a time zone offset"),
        (_appointment(starts_at="9999-12-31T23:59:59-12:00"), "appointments.0.starts_at", "Datetime value out of"),
        (_appointment(starts_at="9999-12-31T20:00:00Z"), "appointments.0.starts_at", "Check the year"),
        (_appointment(duration_minutes=10**100), "appointments.0.duration_minutes", "less than or equal to 600."),
        (_appointment(starts_at=True), "appointments.0.starts_at", "Datetime has wrong format"),
        ({**FAMILY, "clinic": 10**30}, "clinic", "Ensure this value is less than or equal to"),
        ({**FAMILY, "clinic": "x"}, "clinic", "A valid integer is required."),
    ],
)
def test_enrolling_by_api_names_the_field_at_fault(api, clinic, body, key, says):
    response = _post_raw(api, "/api/v1/families/", json.dumps(body))
    refused(response, says)
    assert any(name.startswith(key) for name in response.json()), response.json()
    assert not Caregiver.objects.exists()


@pytest.mark.parametrize(
    ("body", "key", "says"),
    [
        ({"tip_time": "21:00+05:00"}, "tip_time", "is not a local time"),
        ({"quiet_start": "9pm"}, "quiet_start", "is not a local time"),
        ({"quiet_start": 2100}, "quiet_start", "is not a local time"),
        ({"phone": "9" * 100_000}, "phone", "has too many digits"),
        ({"name": "x" * 100_000}, "name", "Ensure this value has at most 80 characters"),
        ({"time_zone": "\x00"}, "time_zone", "Null characters are not allowed."),
        ({"status": "opted_out"}, "status", "is not a field you can send here"),
        ({"email": ["a@b.c"]}, "email", "Not a valid string."),
    ],
)
def test_changing_a_caregiver_by_api_names_the_field_at_fault(api, family, body, key, says):
    caregiver = family["caregiver"]
    response = api.patch(f"/api/v1/caregivers/{caregiver.pk}/", body, format="json")
    refused(response, says)
    assert key in response.json()
    assert Caregiver.objects.get().phone == caregiver.phone


@pytest.mark.parametrize(
    ("body", "key", "says"),
    [
        ({"starts_at": "tomorrow"}, "starts_at", "Datetime has wrong format"),
        ({"starts_at": "9999-12-31T23:00:00Z"}, "starts_at", "Check the year"),
        ({"starts_at": "2027-01-05T10:00:00Z", "duration_minutes": -1}, "duration_minutes", "greater than or equal"),
        ({"starts_at": "2027-01-05T10:00:00Z", "status": "completed"}, "status", "is not a field you can send here"),
    ],
)
def test_rescheduling_by_api_names_the_field_at_fault(api, family, body, key, says):
    appointment = family["appointment"]
    response = api.post(f"/api/v1/appointments/{appointment.pk}/reschedule/", body, format="json")
    refused(response, says)
    assert key in response.json()


@pytest.mark.parametrize(
    ("path", "query", "parameter", "says"),
    [
        ("families", {"page_size": 10**9}, "page_size", "is not a page size: use a whole number from 1 to 100."),
        ("families", {"page_size": -1}, "page_size", "is not a page size"),
        ("families", {"page": "abc"}, "page", "is not a page number"),
        ("families", {"q": HUGE}, "q", "Ensure this field has no more than 80 characters."),
        ("families", {"q": "Al\x00"}, "q", "Null characters are not allowed."),
        ("families", {"serach": "Alex"}, "serach", "“serach” is not a query parameter here. Use: page, page_size, q."),
        ("caregivers", {"status": ""}, "status", "Query parameter “status” is empty"),
        ("caregivers", {"status": "asleep"}, "status", "is not a valid choice"),
        ("caregivers", {"family": 10**30}, "family", "Ensure this value is less than or equal to"),
        ("appointments", {"from": "2027-01-05T10:00"}, "from", "Include a time zone offset"),
        ("appointments", {"from": "2027-02-30"}, "from", "is not a date: use YYYY-MM-DD"),
        ("appointments", {"to": "9999-12-31T23:59:59-12:00"}, "to", "Datetime value out of range."),
        ("appointments", {"to": ""}, "to", "Query parameter “to” is empty"),
        ("messages", {"kind": "spam"}, "kind", "is not a valid choice"),
        ("messages", {"caregiver": "1.5"}, "caregiver", "A valid integer is required."),
    ],
)
def test_a_bad_staff_query_is_a_400_naming_the_parameter(api, family, path, query, parameter, says):
    body = refused(api.get(f"/api/v1/{path}/", query), says)
    assert json.loads(body)["parameter"] == parameter


@pytest.mark.parametrize("pk", [str(10**30), "-1", "abc", "%00"])
@pytest.mark.parametrize("path", ["families", "caregivers", "appointments", "messages"])
def test_a_junk_id_in_the_staff_api_is_a_json_404(api, family, path, pk):
    refused(api.get(f"/api/v1/{path}/{pk}/"), "detail", status=404)


# --- Twilio webhooks --------------------------------------------------------------------------------

TOKEN = "malformed-webhook-token"
PUBLIC = "http://localhost:8000"


@pytest.fixture
def twilio(settings, family):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC
    return family["caregiver"]


def _webhook(client, path: str, form: dict):
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, form)
    return client.post(
        path, urlencode(form), content_type="application/x-www-form-urlencoded", HTTP_X_TWILIO_SIGNATURE=signature
    )


def _inbound(caregiver, **changes) -> dict:
    form = {"MessageSid": "SM" + "7" * 32, "From": caregiver.phone, "To": "+12025550199", "Body": "thanks"}
    return {**form, **changes}


@pytest.mark.parametrize(("size", "says"), [(100_000, "Request body too large."), (3 * MB, "at most 2.5 MB")])
def test_a_huge_text_is_a_413(client, twilio, size, says):
    refused(_webhook(client, "/webhooks/twilio/inbound/", _inbound(twilio, Body="x" * size)), says, status=413)


@pytest.mark.parametrize("missing", ["MessageSid", "From", "To"])
def test_a_text_without_a_required_field_is_a_400_naming_it(client, twilio, missing):
    form = _inbound(twilio)
    del form[missing]
    refused(_webhook(client, "/webhooks/twilio/inbound/", form), f"Missing form field(s): {missing}.")


def test_a_status_callback_without_its_fields_is_a_400(client, twilio):
    refused(_webhook(client, "/webhooks/twilio/status/", {"ErrorCode": "1"}), "MessageSid and MessageStatus")


def test_a_status_callback_for_a_non_numeric_message_is_a_400(client, twilio):
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    refused(_webhook(client, "/webhooks/twilio/status/?m=abc", form), "Query parameter m must be a message id.")


@pytest.mark.postgres
@pytest.mark.parametrize("field", ["Body", "From", "To", "MessageSid"])
def test_a_text_with_a_nul_character_is_a_400(client, twilio, field):
    value = {"Body": "STOP\x00", "From": twilio.phone + "\x00", "To": "+1202555\x000199", "MessageSid": "SM\x001"}
    refused(_webhook(client, "/webhooks/twilio/inbound/", _inbound(twilio, **{field: value[field]})), "NUL")


@pytest.mark.parametrize("m", ["²", "٣", str(10**30)])
def test_a_status_callback_for_a_junk_message_id_is_a_400(client, twilio, m):
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    path = f"/webhooks/twilio/status/?m={quote(m)}"  # as a client would send it (and sign it)
    refused(_webhook(client, path, form), "Query parameter m must be a message id.")


@pytest.mark.parametrize("token", ["%00", "x" * 5000, "😀"])
def test_a_junk_unsubscribe_link_is_a_404(client, db, token):
    assert client.get(f"/unsubscribe/{token}/").status_code == 404
    assert client.post(f"/unsubscribe/{token}/").status_code == 404


def test_an_unsubscribe_link_answers_other_methods_with_a_405(client, family):
    url = f"/unsubscribe/{unsubscribe_token(family['caregiver'].pk, email=family['caregiver'].email)}/"
    assert client.put(url).status_code == 405
