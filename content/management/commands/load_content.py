from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from content.services import LIBRARY_ROOT, ContentInvalid, library_load, library_read, library_sms_report


class Command(BaseCommand):
    help = "Validate content/library/ and load it into the database (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--root", type=Path, default=LIBRARY_ROOT, help="The library folder.")
        parser.add_argument("--check", action="store_true", help="Only validate; change nothing.")

    def handle(self, *args, root: Path, check: bool, **options) -> None:
        try:
            parsed = library_read(root=root)
            for line in library_sms_report(parsed):
                self.stdout.write(f"  {line}")
            if check:
                self.stdout.write(
                    self.style.SUCCESS(f"Content is valid: {len(parsed.tips)} tips, {len(parsed.templates)} templates.")
                )
                return
            report = library_load(root=root)
        except ContentInvalid as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(exc.errors)} problem(s) in the content library; nothing was loaded.") from exc
        self.stdout.write(self.style.SUCCESS(f"Content loaded: {report}."))
