from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from caregiver.selectors import clinics_for_user
from portal.models import StaffApiToken


class Command(BaseCommand):
    help = "Create a staff API token for a user and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username", help="The staff member the token acts as; it sees what they see.")
        parser.add_argument("--name", default="", help="What the token is for, e.g. 'Riverside EHR sync'.")

    def handle(self, *args, username: str, name: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user called “{username}”.")
        if not user.is_active:
            raise CommandError(f"The account “{username}” is deactivated; a token for it would be refused.")
        name = name.strip() or f"{username} API token"
        if len(name) > 50:
            raise CommandError("A token name is at most 50 characters.")
        clinics = list(clinics_for_user(user=user).values_list("name", flat=True))
        _, key = StaffApiToken.objects.create_key(name=name, user=user)
        if clinics:
            self.stdout.write(f"Token “{name}” for {username} at {', '.join(clinics)} (shown once; store it now):")
        else:
            # Made anyway: the membership may be added next. Until then the API answers 403.
            self.stderr.write(f"Warning: {username} is not a member of any clinic yet; the API will refuse the token.")
            self.stdout.write(f"Token “{name}” for {username} (shown once; store it now):")
        self.stdout.write(key)
