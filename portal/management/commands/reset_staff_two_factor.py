"""`manage.py reset_staff_two_factor dana`: a staff member lost the phone with their authenticator app.

Their app is forgotten and any session that entered its code must enter one again; where a clinic
requires two-factor sign-in they set a new app up at their next sign-in (so reset it when they are
ready to do that: until then their password alone reaches the setup page). Operators can also
delete the device under "TOTP devices" in the admin.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from portal import selectors, services


class Command(BaseCommand):
    help = "Forget a staff member's authenticator app (a lost phone): they set a new one up at their next sign-in."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")

    def handle(self, *args, username: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user called “{username}”.")
        removed = services.staff_two_factor_reset(user=user)
        if not removed:
            self.stdout.write(f"{username} has no authenticator app set up; nothing to reset.")
            return
        if selectors.staff_two_factor_required(user=user):
            after = "At their next sign-in they will be asked to set up a new authenticator app."
        else:
            after = "None of their clinics requires two-factor sign-in, so their password alone signs them in now."
        self.stdout.write(f"Two-factor sign-in reset for {username}. {after}")
