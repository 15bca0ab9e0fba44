from io import StringIO

from django.core.management import call_command
from rest_framework_api_key.models import APIKey

from caregiver.models import Appointment, Caregiver, Clinic, ConsentRecord


def test_seed_demo_makes_a_family_once_and_prints_the_login(db):
    first, second = StringIO(), StringIO()
    call_command("seed_demo", stdout=first)
    call_command("seed_demo", stdout=second)
    assert Clinic.objects.count() == 1
    # Sam, Jordan and Lucía (Spanish); Morgan is asked to confirm.
    assert Caregiver.objects.filter(status="active").count() == 3
    assert Appointment.objects.filter(kind="infusion").count() == 6
    assert ConsentRecord.objects.count() == 5  # Sam: text and email; Jordan: email; Lucía: text and email
    assert "demo-staff / alongside-demo" in first.getvalue()
    clinic = Clinic.objects.get()
    assert "http://127.0.0.1:8000/staff/" in first.getvalue()
    assert f"http://127.0.0.1:8000/join/{clinic.enrollment_code}/" in first.getvalue()
    # Only the API key changes: the previous demo key is revoked, the new one printed.
    assert first.getvalue().split("Demo API key:")[0] == second.getvalue().split("Demo API key:")[0]
    assert APIKey.objects.filter(revoked=False).count() == 1
