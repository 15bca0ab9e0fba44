"""How long staff wait for the preview of a 2,000-row CSV import: the families import (new
families, caregivers and appointments) and the appointments import (existing families), timed as
the page's request through Django's test client, with the queries counted. The bar: under 3 s.

    .venv/bin/python bench/import_bench.py --out var/bench/import.json
    .venv/bin/python bench/import_bench.py --database-url postgres://postgres@127.0.0.1:5432/mine

It makes (and drops) the database it is given, `alongside_bench_import` by default.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PG, bench_database, django_setup, machine, timed, write

ROWS = 2_000
FIRST = ["Alex", "Robin", "Sam", "Jordan", "Casey", "Riley", "Morgan", "Taylor", "Jamie", "Avery", "Quinn", "Drew"]
LAST = ["Rivera", "Nguyen", "Okafor", "Smith", "Garcia", "Kowalski", "Haddad", "Lee", "Brown", "Martin"]


def families_csv(rows: int, *, start: datetime) -> bytes:
    """About one family per three rows, as a clinic's export has them: a caregiver per row (some by
    email, some both) and most rows with one of the family's sessions."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["family", "loved_one", "caregiver_name", "caregiver_phone", "caregiver_email", "relationship",
                     "channels", "appointment", "kind", "duration_minutes"])  # fmt: skip
    for index in range(rows):
        family = index // 3
        name = f"{FIRST[family % len(FIRST)]}"
        person = f"{FIRST[(index * 7) % len(FIRST)]} {LAST[index % len(LAST)]}"
        phone = f"+1202555{index % 10_000:04d}" if index % 4 != 3 else ""
        email = f"care{index}@example.org" if index % 4 in (2, 3) else ""
        channels = "both" if phone and email else ("sms" if phone else "email")
        when = start + timedelta(days=family % 300, hours=index % 3)
        writer.writerow([f"F{family}", name, person, phone, email, "partner", channels,
                         f"{when:%Y-%m-%d} {9 + index % 3}:30", "infusion", "60"])  # fmt: skip
    return out.getvalue().encode()


def appointments_csv(families: list[tuple[int, str]], rows: int, *, start: datetime) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["family_id", "loved_one", "caregiver_phone", "caregiver_email", "appointment", "kind",
                     "duration_minutes"])  # fmt: skip
    for index in range(rows):
        family_id, phone = families[index % len(families)]
        when = start + timedelta(days=index // len(families) * 2 + 1)
        if index % 2:  # half by id, half by loved one and a caregiver's phone
            writer.writerow([family_id, "", "", "", f"{when:%m/%d/%Y} 2:30 PM", "infusion", "90"])
        else:
            writer.writerow(["", "Alex", phone, "", f"{when:%Y-%m-%d} 14:30", "infusion", "90"])
    return out.getvalue().encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=f"{PG}/alongside_bench_import")
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    url = bench_database(args.database_url.rsplit("/", 1)[1])
    django_setup(url)

    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from tests import factories

    clinic = factories.ClinicFactory(time_zone="America/New_York")
    user = factories.UserFactory()
    factories.StaffMembershipFactory(user=user, clinic=clinic)
    client = Client()
    client.force_login(user)
    start = (timezone.now() + timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    result: dict = {"machine": machine(), "rows": args.rows}

    def preview(path: str, raw: bytes, name: str) -> dict:
        def once():
            upload = io.BytesIO(raw)
            upload.name = name
            response = client.post(path, {"file": upload, "clinic": clinic.pk})
            if response.status_code != 200:
                raise SystemExit(f"the preview failed ({response.status_code}): {response.content[:2000]!r}")

        count = [0]

        def counted(execute, sql, params, many, context):
            count[0] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counted):
            once()
        return {**timed(once, repeat=args.repeat), "queries": count[0]}

    result["families_preview"] = preview("/staff/import/", families_csv(args.rows, start=start), "families.csv")

    existing = []
    for number in range(400):
        loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
        caregiver = factories.CaregiverFactory(clinic=clinic, phone=f"+1303555{number:04d}")
        factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
        existing.append((loved_one.pk, caregiver.phone))
    path = "/staff/import/appointments/"
    if client.get(path).status_code == 200:
        raw = appointments_csv(existing, args.rows, start=start)
        result["appointments_preview"] = preview(path, raw, "appointments.csv")
    write(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
