from django.core.management.base import BaseCommand, CommandError
from rest_framework_api_key.models import APIKey


class Command(BaseCommand):
    help = "Create an API key for the tip API and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who the key is for, e.g. 'Riverside website'.")

    def handle(self, *args, name: str, **options) -> None:
        name = name.strip()
        if not name:
            raise CommandError("Give the key a name that says who it is for.")
        if len(name) > 50:
            raise CommandError("A key name is at most 50 characters.")
        _, key = APIKey.objects.create_key(name=name)
        self.stdout.write(f"API key for “{name}” (shown once; store it now):")
        self.stdout.write(key)
