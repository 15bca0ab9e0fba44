"""CSV imports as clinics' spreadsheets export them: appointments for families already here, the
families import's warnings, and the templates to start from."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from caregiver.models import Appointment, Clinic, ClinicClosure, LovedOne
from tests import factories
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
NOW = datetime(2027, 3, 10, 12, 0, tzinfo=NY)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def alex(clinic):
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    caregiver = factories.CaregiverFactory(clinic=clinic, phone="+12025550143", email="sam@example.org")
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    return loved_one


def upload(client, path: str, content: str, *, encoding: str = "utf-8"):
    clinic = Clinic.objects.get(memberships__user__username="dana")
    return client.post(path, {"file": SimpleUploadedFile("file.csv", content.encode(encoding)), "clinic": clinic.pk})


def local_starts(family) -> list[str]:
    return [a.starts_at.astimezone(NY).strftime("%Y-%m-%d %H:%M") for a in family.appointments.order_by("starts_at")]


APPOINTMENTS = "/staff/import/appointments/"


def test_appointments_match_by_family_id_or_by_name_and_caregiver_contact(staff_client, alex):
    csv = (
        "family_id,loved_one,caregiver_phone,caregiver_email,appointment,kind,duration_minutes\n"
        f"{alex.pk},,,,2027-03-15 14:30,infusion,90\n"
        ",Alex,(202) 555-0143,,3/17/2027 2:30 PM,,\n"
        ",alex,,SAM@example.org,3/19/2027 14:30,booster,\n"
    )
    preview = upload(staff_client, APPOINTMENTS, csv)
    assert preview.status_code == 200
    assert "The file is valid: 3 appointments for 1 family. Nothing is saved yet." in text(preview)
    assert alex.appointments.count() == 0
    done = staff_client.post(APPOINTMENTS, {"step": "import"})
    assert done.status_code == 302
    assert local_starts(alex) == ["2027-03-15 14:30", "2027-03-17 14:30", "2027-03-19 14:30"]
    assert [a.kind for a in alex.appointments.order_by("starts_at")] == ["infusion", "infusion", "booster"]


def test_a_spreadsheet_export_with_bom_semicolons_and_loved_one_header_is_read(staff_client, alex):
    csv = "Loved One;Caregiver Phone;Appointment\nAlex;202-555-0143;3/15/2027 2:30 PM\n"
    response = upload(staff_client, APPOINTMENTS, csv, encoding="utf-8-sig")
    assert "The file is valid: 1 appointment for 1 family." in text(response)


def test_rows_that_match_no_family_or_several_say_what_to_do(staff_client, alex, clinic):
    twin = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    factories.CareLinkFactory(caregiver=alex.caregivers.get(), loved_one=twin)
    csv = (
        "family_id,loved_one,caregiver_phone,appointment\n"
        ",Alex,(202) 555-0143,2027-03-15 14:30\n"
        ",Robin,(202) 555-0143,2027-03-15 14:30\n"
        "999999,,,2027-03-15 14:30\n"
        ",Alex,,2027-03-15 14:30\n"
        f"{alex.pk},,,next tuesday\n"
    )
    response = upload(staff_client, APPOINTMENTS, csv)
    assert response.status_code == 400
    page = text(response)
    assert f"Several families match ({alex.pk}, {twin.pk}): use family_id to say which." in page
    assert "No family here has a loved one named Robin with a caregiver at (202) 555-0143." in page
    assert f"family_id: no family with id 999999 at {clinic.name}." in page
    assert "Say whose appointment it is: family_id, or loved_one with a caregiver_phone or caregiver_email." in page
    assert "“next tuesday” is not a date and time we can read: write it like 2027-03-15 14:30" in page
    assert Appointment.objects.count() == 0


def test_another_clinics_family_is_not_found_by_id_or_by_phone(staff_client, other_clinic):
    theirs = factories.LovedOneFactory(clinic=other_clinic, first_name="Alex")
    factories.CareLinkFactory(caregiver=factories.CaregiverFactory(clinic=other_clinic, phone="+12025550188"),
                              loved_one=theirs)  # fmt: skip
    csv = (
        "family_id,loved_one,caregiver_phone,appointment\n"
        f"{theirs.pk},,,2027-03-15 14:30\n"
        ",Alex,2025550188,2027-03-15 14:30\n"
    )
    response = upload(staff_client, APPOINTMENTS, csv)
    assert response.status_code == 400
    assert "no family with id" in text(response)
    assert "No family here has a loved one named Alex" in text(response)
    assert theirs.appointments.count() == 0


def test_past_and_duplicate_appointments_are_flagged_and_imported_only_when_kept(staff_client, alex):
    factories.AppointmentFactory(loved_one=alex, starts_at=datetime(2027, 3, 15, 14, 30, tzinfo=NY))
    csv = (
        "family_id,appointment\n"
        f"{alex.pk},2027-03-15 14:30\n"  # the same as the one it has
        f"{alex.pk},2027-03-01 10:00\n"  # in the past
        f"{alex.pk},2027-03-22 10:00\n"
        f"{alex.pk},2027-03-22 10:00\n"  # twice in the file
    )
    preview = upload(staff_client, APPOINTMENTS, csv)
    page = text(preview)
    assert "3 rows need a second look" in page
    assert "Alex already has an appointment at Mon Mar 15, 2027 2:30 PM." in page
    assert "Mon Mar 1, 2027 10:00 AM is in the past." in page
    refused = staff_client.post(APPOINTMENTS, {"step": "import"})
    assert refused.status_code == 400
    assert "Nothing was saved: tick “Keep anyway” to import the flagged appointments" in text(refused)
    assert alex.appointments.count() == 1
    kept = staff_client.post(APPOINTMENTS, {"step": "import", "confirm": "on"})
    assert kept.status_code == 302
    assert alex.appointments.count() == 5


def test_the_families_import_flags_a_past_appointment_too(staff_client, clinic):
    csv = (
        "family,loved_one,caregiver_name,caregiver_phone,appointment\n"
        "A,Robin,Sam Lee,(202) 555-0143,3/1/2027 10:00 AM\n"
    )
    assert "1 row needs a second look" in text(upload(staff_client, "/staff/import/", csv))
    assert staff_client.post("/staff/import/", {"step": "import"}).status_code == 400
    assert not LovedOne.objects.filter(first_name="Robin").exists()
    assert staff_client.post("/staff/import/", {"step": "import", "confirm": "on"}).status_code == 302
    assert LovedOne.objects.get(first_name="Robin").appointments.count() == 1


def test_both_imports_flag_an_appointment_on_a_closure_day(staff_client, alex, clinic):
    ClinicClosure.objects.create(clinic=clinic, day=date(2027, 3, 22), note="Holiday")
    page = text(upload(staff_client, APPOINTMENTS, f"family_id,appointment\n{alex.pk},2027-03-22 10:00\n"))
    assert "The clinic is closed on Mon Mar 22, 2027 (Holiday)." in page
    csv = (
        "family,loved_one,caregiver_name,caregiver_phone,appointment\nA,Robin,Sam Lee,(202) 555-0188,3/22/2027 10:00\n"
    )
    assert "The clinic is closed on Mon Mar 22, 2027 (Holiday)." in text(upload(staff_client, "/staff/import/", csv))


def test_the_families_preview_catches_a_number_enrolled_already_or_twice_in_the_file(staff_client, alex):
    csv = (
        "family,loved_one,caregiver_name,caregiver_phone\n"
        "A,Robin,Sam Lee,(202) 555-0143\n"
        "B,Casey,Jo Kim,(303) 555-0199\n"
        "C,Riley,Max Roe,303-555-0199\n"
    )
    page = text(upload(staff_client, "/staff/import/", csv))
    # Line 2's number is enrolled; lines 3 and 4 hold one number twice (an outside tester found
    # that called "already enrolled", which sent staff looking for a family that isn't there).
    assert page.count("phone: This mobile number is already enrolled at this clinic.") == 1
    assert "phone: the same number is on line 3 of the file: give it once." in page


@pytest.mark.parametrize(
    ("path", "first_line"),
    [
        ("/staff/import/template.csv", "family,loved_one,caregiver_name"),
        ("/staff/import/appointments/template.csv", "family_id,loved_one,caregiver_phone"),
    ],
)
def test_each_import_has_a_template_that_its_own_preview_reads(staff_client, path, first_line):
    response = staff_client.get(path)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode().startswith(first_line)


def test_a_loved_ones_name_matches_however_the_spreadsheet_spells_its_accents(staff_client, clinic):
    """Found by an outside tester: "Renee" in the file did not match the family of "Renée"."""
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Renée")
    caregiver = factories.CaregiverFactory(clinic=clinic, phone="+12025550150")
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    csv = (
        "loved_one,caregiver_phone,appointment\n"
        "Renee,(202) 555-0150,2027-03-15 14:30\n"
        "RENÉE,202-555-0150,2027-03-17 14:30\n"
    )
    preview = text(upload(staff_client, APPOINTMENTS, csv))
    assert "The file is valid: 2 appointments for 1 family." in preview


def test_a_real_spreadsheet_export_is_read_with_its_own_columns_words_and_windows_encoding(staff_client, clinic):
    """Found by an outside tester: an extra Notes column, "spouse", "text", "IV infusion" and Excel's
    Windows encoding each refused the whole file."""
    csv = (
        "family,loved_one,caregiver_name,caregiver_phone,relationship,channels,appointment,kind,Notes\n"
        "A,Renée,Sam Lee,(202) 555-0188,Spouse,text,3/22/2027 10:00 AM,IV infusion,prefers mornings\n"
        "B,José,Kim Park,(202) 555-0189,daughter,Text,3/23/2027 10:00 AM,esketamine,\n"
    )
    preview = text(upload(staff_client, "/staff/import/", csv, encoding="cp1252"))
    assert "The file is valid" in preview
    assert "Columns left out (we don't read them): notes." in preview
    assert "Read as a Windows (Excel) CSV file" in preview
    assert staff_client.post("/staff/import/", {"step": "import"}).status_code == 302
    renee = LovedOne.objects.get(first_name="Renée")
    link = renee.links.get()
    assert (link.relationship, link.caregiver.channels) == ("partner", "sms")
    assert renee.appointments.get().kind == "infusion"
    assert LovedOne.objects.get(first_name="José").links.get().relationship == "child"


def test_a_row_after_a_blank_line_is_named_by_its_own_line(staff_client, alex):
    """Found by an outside tester: every row after a blank line was reported one line early."""
    csv = f"family_id,appointment\n{alex.pk},2027-03-22 10:00\n\n;;;;\n{alex.pk},not a date\n"
    rows = text(upload(staff_client, APPOINTMENTS, csv))
    assert " 4 ;;;; " in rows
    assert f" 5 {alex.pk} not a date " in rows
