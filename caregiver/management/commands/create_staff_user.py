"""A staff login for a clinic: `manage.py create_staff_user dana --clinic riverside`.

Works under production settings. The password is never printed and never an argument (it would
sit in the shell history and the process list): it is read from --password-file, from the
STAFF_PASSWORD environment variable, or asked twice at the terminal.
"""

from __future__ import annotations

import os
import sys
from getpass import getpass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from caregiver import services
from caregiver.models import Clinic, StaffMembership

from .create_clinic import validation_message

PASSWORD_ENV = "STAFF_PASSWORD"  # noqa: S105 -- the variable's name, not a password
FLAGS = {"username": "USERNAME", "email": "--email", "first_name": "--first-name", "last_name": "--last-name"}


class Command(BaseCommand):
    help = "Create a staff user who is a member of one clinic (password from a file, $STAFF_PASSWORD or a prompt)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--clinic", required=True, metavar="SLUG", help="The clinic's slug (see create_clinic).")
        parser.add_argument("--email", default="")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--role", default=StaffMembership.Role.STAFF, choices=StaffMembership.Role.values)
        parser.add_argument("--password-file", default="", help="Read the password from the first line of this file.")

    def handle(self, *args, username: str, clinic: str, **options) -> None:
        found = Clinic.objects.filter(slug=clinic.strip()).first()
        if found is None:
            known = ", ".join(Clinic.objects.order_by("slug").values_list("slug", flat=True)[:10]) or "none yet"
            raise CommandError(f"There is no clinic with the slug “{clinic}” (clinics: {known}).")
        password = self._password(options["password_file"])
        try:
            user = services.staff_user_create(
                username=username,
                password=password,
                clinic=found,
                email=options["email"],
                first_name=options["first_name"],
                last_name=options["last_name"],
                role=options["role"],
            )
        except ValidationError as exc:
            raise CommandError("The user was not created:\n" + validation_message(exc, FLAGS)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {user.get_username()}, {options['role']} at “{found.name}”; they sign in at /staff/."
            )
        )

    def _password(self, password_file: str) -> str:
        if password_file:
            try:
                lines = Path(password_file).read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise CommandError(f"Could not read --password-file {password_file}: {exc.strerror}.") from exc
            if not lines or not lines[0]:
                raise CommandError(f"--password-file {password_file} is empty; put the password on its first line.")
            return lines[0]
        if os.environ.get(PASSWORD_ENV):
            return os.environ[PASSWORD_ENV]
        if not sys.stdin.isatty():
            raise CommandError(f"Give the password with --password-file or ${PASSWORD_ENV} (no terminal to ask at).")
        first = getpass("Password: ")
        if first != getpass("Password (again): "):
            raise CommandError("The two passwords differ; nothing was created.")
        return first
