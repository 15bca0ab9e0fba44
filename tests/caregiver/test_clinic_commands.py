"""Starting a real clinic: `create_clinic` and `create_staff_user`, as an operator runs them."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from caregiver.models import Clinic, StaffMembership
from tests import factories
from tests.security.test_deploy_settings import ROOT, production_env

CLINIC = [
    "--name", "Lakeside Care", "--time-zone", "America/Chicago", "--contact-phone", "(312) 555-0100",
    "--contact-email", "Front@Lakeside.example", "--twilio-from-number", "+1 312 555 0199",
]  # fmt: skip


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_create_clinic_makes_a_clinic_with_its_number_and_zone(db):
    printed = run("create_clinic", *CLINIC)
    clinic = Clinic.objects.get(slug="lakeside-care")
    assert (clinic.time_zone, clinic.contact_phone, clinic.twilio_from_number) == (
        "America/Chicago", "+13125550100", "+13125550199"
    )  # fmt: skip
    assert clinic.contact_email == "front@lakeside.example"
    assert f"/join/{clinic.enrollment_code}/" in printed


def test_create_clinic_can_require_two_factor_sign_in_for_its_staff(db):
    printed = run("create_clinic", *CLINIC, "--staff-two-factor")
    assert Clinic.objects.get(slug="lakeside-care").staff_two_factor_required
    assert "two-factor sign-in" in printed


def test_create_clinic_names_every_bad_option_and_creates_nothing(db):
    bad = ["--name", "X", "--time-zone", "Mars/Olympus", "--contact-phone", "12",
           "--contact-email", "nobody", "--twilio-from-number", "call me"]  # fmt: skip
    with pytest.raises(CommandError) as raised:
        run("create_clinic", *bad)
    message = str(raised.value)
    for flag in ("--time-zone", "--contact-phone", "--contact-email", "--twilio-from-number"):
        assert flag in message
    assert "too few digits" in message
    assert not Clinic.objects.exists()


def test_create_clinic_refuses_a_slug_in_use(db):
    factories.ClinicFactory(slug="lakeside-care")
    with pytest.raises(CommandError, match="--slug: Clinic with this Slug already exists"):
        run("create_clinic", *CLINIC)


def test_create_staff_user_reads_the_password_from_a_file_and_never_prints_it(db, tmp_path):
    clinic = factories.ClinicFactory(slug="lakeside")
    secret = tmp_path / "password"
    secret.write_text("correct horse battery staple\n")
    printed = run("create_staff_user", "robin", "--clinic", "lakeside", "--password-file", str(secret),
                  "--email", "robin@lakeside.example", "--role", "admin")  # fmt: skip
    user = get_user_model().objects.get(username="robin")
    assert user.check_password("correct horse battery staple")
    assert StaffMembership.objects.get(user=user).clinic == clinic
    assert StaffMembership.objects.get(user=user).role == "admin"
    assert "correct horse" not in printed


@pytest.mark.parametrize(
    ("password", "args", "error"),
    [
        ("correct horse battery staple", ["--clinic", "nowhere"], "There is no clinic with the slug “nowhere”"),
        ("short", ["--clinic", "lakeside"], "password: This password is too short"),
        ("12345678901234", ["--clinic", "lakeside"], "password: This password is entirely numeric"),
        ("correct horse battery staple", ["--clinic", "lakeside", "--email", "robin@"], "--email: Enter a valid"),
    ],
    ids=["unknown clinic", "short password", "numeric password", "bad email"],
)
def test_create_staff_user_says_what_is_wrong(db, monkeypatch, password, args, error):
    factories.ClinicFactory(slug="lakeside")
    monkeypatch.setenv("STAFF_PASSWORD", password)
    with pytest.raises(CommandError, match=error):
        run("create_staff_user", "robin", *args)
    assert not get_user_model().objects.filter(username="robin").exists()


def test_create_staff_user_refuses_a_taken_username(db, monkeypatch):
    factories.ClinicFactory(slug="lakeside")
    get_user_model().objects.create_user(username="robin")
    monkeypatch.setenv("STAFF_PASSWORD", "correct horse battery staple")
    with pytest.raises(CommandError, match="USERNAME: A user with that username already exists"):
        run("create_staff_user", "robin", "--clinic", "lakeside")


def test_create_staff_user_without_a_password_source_or_terminal_says_how(db, monkeypatch):
    factories.ClinicFactory(slug="lakeside")
    monkeypatch.delenv("STAFF_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", StringIO())
    with pytest.raises(CommandError, match=r"--password-file or \$STAFF_PASSWORD"):
        run("create_staff_user", "robin", "--clinic", "lakeside")


def test_seed_demo_refuses_production_settings(db, settings, monkeypatch):
    settings.DEBUG = False
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "config.settings.production")
    with pytest.raises(CommandError, match="only runs in local settings"):
        run("seed_demo")
    assert not Clinic.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_both_commands_work_under_production_settings():
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = production_env(DATABASE_URL=url, STAFF_PASSWORD="correct horse battery staple")

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args, "--settings=config.settings.production"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    made = manage("create_clinic", *CLINIC)
    assert made.returncode == 0, made.stderr
    staff = manage("create_staff_user", "robin", "--clinic", "lakeside-care")
    assert staff.returncode == 0, staff.stderr
    assert "correct horse" not in staff.stdout + staff.stderr
    assert get_user_model().objects.get(username="robin").memberships.get().clinic.name == "Lakeside Care"
    demo = manage("seed_demo")
    assert demo.returncode == 1
    assert "only runs in local settings" in demo.stderr
