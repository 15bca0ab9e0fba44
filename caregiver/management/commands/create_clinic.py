"""Start a real clinic: `manage.py create_clinic --name ... --twilio-from-number ...`.

Works under production settings. The clinic is checked as the admin checks it (Clinic.full_clean:
time zone, E.164 numbers, a unique slug, a name texts may show); every problem is reported at once.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from caregiver import services

FLAGS = {
    "name": "--name",
    "slug": "--slug",
    "time_zone": "--time-zone",
    "contact_phone": "--contact-phone",
    "contact_email": "--contact-email",
    "twilio_from_number": "--twilio-from-number",
}


def validation_message(exc: ValidationError, flags: dict[str, str]) -> str:
    """One line per problem, naming the option to fix."""
    if not hasattr(exc, "error_dict"):
        return "\n".join(exc.messages)
    return "\n".join(
        f"{flags.get(field, field)}: {message}" for field, messages in exc.message_dict.items() for message in messages
    )


class Command(BaseCommand):
    help = "Create a clinic with its Twilio number and time zone, and print its enrollment code."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True, help="The clinic's name, e.g. 'Riverside Wellness'.")
        parser.add_argument(
            "--slug", default="", help="Short unique name for URLs and the admin (default: from --name)."
        )
        parser.add_argument("--time-zone", required=True, help="IANA time zone, e.g. America/New_York.")
        parser.add_argument("--contact-phone", required=True, help="The phone caregivers are told to call.")
        parser.add_argument("--contact-email", required=True, help="The address caregivers are told to write to.")
        parser.add_argument(
            "--twilio-from-number", required=True, help="The clinic's Twilio number texts come from (E.164)."
        )
        parser.add_argument(
            "--staff-two-factor",
            action="store_true",
            help="Staff must enter a code from an authenticator app after their password (set up at first sign-in).",
        )

    def handle(self, *args, **options) -> None:
        slug = options["slug"].strip() or slugify(options["name"])[:60]
        try:
            clinic = services.clinic_create(
                name=options["name"],
                slug=slug,
                time_zone=options["time_zone"].strip(),
                contact_phone=options["contact_phone"],
                contact_email=options["contact_email"],
                twilio_from_number=options["twilio_from_number"],
                staff_two_factor_required=options["staff_two_factor"],
            )
        except ValidationError as exc:
            raise CommandError("The clinic was not created:\n" + validation_message(exc, FLAGS)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created clinic “{clinic.name}” (slug {clinic.slug}, {clinic.time_zone}).")
        )
        self.stdout.write(f"  Texts come from {clinic.twilio_from_number}; point its Twilio webhooks at")
        self.stdout.write("  /webhooks/twilio/inbound/ and /webhooks/twilio/status/ on PUBLIC_BASE_URL.")
        self.stdout.write(
            f"  Enrollment code: {clinic.enrollment_code} (families sign up at /join/{clinic.enrollment_code}/)"
        )
        if clinic.staff_two_factor_required:
            self.stdout.write("  Staff set up two-factor sign-in (an authenticator app) at their first sign-in.")
        self.stdout.write(f"  Next: manage.py create_staff_user USERNAME --clinic {clinic.slug}")
