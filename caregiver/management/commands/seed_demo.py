"""Demo data for `make run`: a clinic, a staff login, a loved one with a course, two caregivers.

Safe to run again: it finds what it made before instead of making it twice.
"""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from rest_framework_api_key.models import APIKey

from caregiver import services
from caregiver.models import Appointment, Caregiver, CareLink, Clinic, LovedOne, OnCallContact, StaffMembership
from caregiver.validators import local_to_utc

DEMO_SLUG = "demo-clinic"
DEMO_USERNAME = "demo-staff"
# Printed to the terminal; the command refuses to run outside local and test settings.
DEMO_PASSWORD = "alongside-demo"  # noqa: S105
CONSENT_VERSION = "demo-2026-11"
DEMO_API_KEY_NAME = "demo (make run)"


class Command(BaseCommand):
    help = "Create (or find) the demo clinic, staff login, family and appointments, and a fresh demo API key."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="Where the server will listen.")

    def handle(self, *args, base_url: str, **options) -> None:
        # The environment, not settings.SETTINGS_MODULE, which override_settings blanks out.
        module = os.environ.get("DJANGO_SETTINGS_MODULE", "")
        if not settings.DEBUG and not module.endswith((".local", ".test")):
            raise CommandError("seed_demo makes a login with a published password; it only runs in local settings.")
        with transaction.atomic():
            clinic = self._clinic()
            self._staff(clinic)
            self._on_call(clinic)
            loved_one = self._family(clinic)
            self._texter(clinic, loved_one)
            self._spanish(clinic, loved_one)
            count = self._course(loved_one)
            api_key = self._api_key()
        self.stdout.write(
            self.style.SUCCESS(f"Demo clinic “{clinic.name}” ready: {count} appointments for {loved_one.first_name}.")
        )
        self.stdout.write(f"  Staff portal:     {base_url}/staff/   login {DEMO_USERNAME} / {DEMO_PASSWORD}")
        self.stdout.write(f"  Sign-up page:     {base_url}/join/{clinic.enrollment_code}/")
        self.stdout.write(
            f"  The phone:        {base_url}/dev/phone/   (Morgan was asked to reply YES; Lucía reads Spanish)"
        )
        self.stdout.write(f"  Demo API key:     {api_key}")
        self.stdout.write(f"  Try:              curl -H 'Authorization: Api-Key {api_key}' {base_url}/api/v1/tips/")

    def _api_key(self) -> str:
        # Only a key's hash is stored, so each run revokes the last demo key and prints a new one.
        APIKey.objects.filter(name=DEMO_API_KEY_NAME, revoked=False).update(revoked=True)
        _, key = APIKey.objects.create_key(name=DEMO_API_KEY_NAME)
        return key

    def _clinic(self) -> Clinic:
        clinic = Clinic.objects.filter(slug=DEMO_SLUG).first()
        if clinic:
            return clinic
        return services.clinic_create(
            name="Riverside Wellness (demo)",
            slug=DEMO_SLUG,
            time_zone="America/New_York",
            contact_phone="+12025550100",
            contact_email="care@riverside.example",
            twilio_from_number="+12025550199",
        )

    def _staff(self, clinic: Clinic) -> None:
        user, created = get_user_model().objects.get_or_create(
            username=DEMO_USERNAME,
            defaults={"email": "staff@riverside.example", "first_name": "Dana", "is_staff": True},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
            # Enough to use the admin for their own clinic; scoping does the rest.
            user.user_permissions.set(
                Permission.objects.filter(content_type__app_label__in=["caregiver", "content", "messaging"])
            )
        services.staff_membership_add(user=user, clinic=clinic, role=StaffMembership.Role.ADMIN)

    def _on_call(self, clinic: Clinic) -> None:
        """Two on-call contacts, so a crisis text in the demo escalates as it would at a clinic."""
        if not OnCallContact.objects.filter(clinic=clinic).exists():
            OnCallContact.objects.create(
                clinic=clinic, position=0, name="Dana (on call)", phone="+12025550180", email="staff@riverside.example"
            )
            OnCallContact.objects.create(
                clinic=clinic, position=1, name="Dr. Lee (backup)", phone="+12025550181", email="lee@riverside.example"
            )

    def _family(self, clinic: Clinic) -> LovedOne:
        loved_one = LovedOne.objects.filter(clinic=clinic, first_name="Alex").first()
        if loved_one:
            return loved_one
        loved_one = services.loved_one_create(clinic=clinic, first_name="Alex")
        sam = services.caregiver_create(
            clinic=clinic,
            name="Sam Rivera",
            phone="(202) 555-0143",
            email="sam@example.com",
            channels=Caregiver.Channels.BOTH,
            loved_one=loved_one,
            relationship=CareLink.Relationship.PARTNER,
            tip_frequency=Caregiver.Frequency.DAILY,
        )
        jordan = services.caregiver_create(
            clinic=clinic,
            name="Jordan Rivera",
            email="jordan@example.com",
            channels=Caregiver.Channels.EMAIL,
            time_zone="America/Chicago",
            loved_one=loved_one,
            relationship=CareLink.Relationship.CHILD,
            tip_frequency=Caregiver.Frequency.WEEKLY,
        )
        for caregiver in (sam, jordan):
            for channel in ("sms", "email"):
                if (channel == "sms" and caregiver.wants_sms) or (channel == "email" and caregiver.wants_email):
                    services.caregiver_opt_in(
                        caregiver=caregiver, channel=channel, source="staff", consent_text_version=CONSENT_VERSION
                    )
        return loved_one

    def _texter(self, clinic: Clinic, loved_one: LovedOne) -> None:
        """A friend staff enrolled for texts only, asked to reply YES: confirm them on /dev/phone/."""
        if Caregiver.objects.filter(clinic=clinic, phone="+12025550177").exists():
            return
        morgan = services.caregiver_create(
            clinic=clinic,
            name="Morgan Lee",
            phone="(202) 555-0177",
            channels=Caregiver.Channels.SMS,
            loved_one=loved_one,
            relationship=CareLink.Relationship.FRIEND,
        )
        services.caregiver_invite(caregiver=morgan, by=None)

    def _spanish(self, clinic: Clinic, loved_one: LovedOne) -> None:
        """Alex's aunt, who reads Spanish: every text and email to her is in Spanish."""
        if Caregiver.objects.filter(clinic=clinic, phone="+12025550166").exists():
            return
        lucia = services.caregiver_create(
            clinic=clinic,
            name="Lucía Hernández",
            phone="(202) 555-0166",
            email="lucia@example.com",
            channels=Caregiver.Channels.BOTH,
            loved_one=loved_one,
            relationship=CareLink.Relationship.OTHER,
            tip_frequency=Caregiver.Frequency.DAILY,
            language="es",
        )
        for channel in ("sms", "email"):
            services.caregiver_opt_in(
                caregiver=lucia, channel=channel, source="staff", consent_text_version=CONSENT_VERSION
            )

    def _course(self, loved_one: LovedOne) -> int:
        existing = loved_one.appointments.count()
        if existing:
            return existing
        zone = ZoneInfo(loved_one.clinic.time_zone)
        today = timezone.now().astimezone(zone).date()

        def at(days: int, hour: int, minute: int = 0) -> datetime:
            day = today + timedelta(days=days)
            return local_to_utc(datetime.combine(day, time(hour, minute)), time_zone=zone.key)

        services.appointment_create(
            loved_one=loved_one, starts_at=at(1, 9, 30), kind=Appointment.Kind.ASSESSMENT, duration_minutes=60
        )
        # The initial phase: six infusions over about two and a half weeks, then a booster.
        for days in (2, 4, 7, 9, 11, 14):
            services.appointment_create(loved_one=loved_one, starts_at=at(days, 10), duration_minutes=90)
        services.appointment_create(
            loved_one=loved_one, starts_at=at(42, 10), kind=Appointment.Kind.BOOSTER, duration_minutes=90
        )
        return loved_one.appointments.count()
