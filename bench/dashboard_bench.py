"""The staff dashboard's cost against the size of the clinic: a clinic with 100,000 messages (and
proportional caregivers, texts, opt-outs, alerts, sessions, email events and tip answers) against
one with 1,000, both over the same two years, each page asked for the last 12 weeks. Timed as the
page's request through Django's test client, with the queries counted, and each query of the
large clinic's page EXPLAINed (which indexes it uses).

    .venv/bin/python bench/dashboard_bench.py --out var/bench/dashboard.json
    .venv/bin/python bench/dashboard_bench.py --large 5000 --small 500 --repeat 1

It makes (and drops) the database it is given, `alongside_bench_dashboard` by default.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PG, bench_database, django_setup, machine, timed, write

WEEKS = 104
STATUSES = ["delivered"] * 14 + ["sent", "failed", "undelivered", "suppressed", "cancelled", "scheduled"]
REASONS = {"suppressed": "quiet_hours", "cancelled": "appointment_cancelled"}
ERRORS = {"failed": "30007", "undelivered": "21614"}


def seed(clinic, messages: int, *, now) -> dict:
    """`messages` outbound rows over WEEKS weeks before now, and the other tables in proportion."""
    from caregiver.models import Appointment, Caregiver, CareLink, ConsentRecord, LovedOne
    from content.models import Tip
    from messaging.models import CrisisAlert, EmailEvent, InboundMessage, OutboundMessage, TipResponse

    span = timedelta(weeks=WEEKS)
    step = span / messages
    people = max(messages // 50, 4)
    prefix = clinic.slug
    caregivers = Caregiver.objects.bulk_create(
        Caregiver(
            clinic=clinic,
            name=f"Caregiver {n}",
            phone=f"+1{clinic.pk % 9 + 2}025{n:06d}",
            time_zone="UTC",
            created_at=now - span + step * (n * messages // people),
        )
        for n in range(people)
    )
    families = LovedOne.objects.bulk_create(LovedOne(clinic=clinic, first_name="Alex") for _ in range(people))
    CareLink.objects.bulk_create(CareLink(caregiver=c, loved_one=f) for c, f in zip(caregivers, families, strict=True))
    tips = list(Tip.objects.order_by("pk")[:40])
    rows = []
    for n in range(messages):
        status = STATUSES[n % len(STATUSES)]
        kind = "tip" if n % 3 == 0 else "reminder"
        rows.append(
            OutboundMessage(
                caregiver=caregivers[n % people],
                channel="email" if n % 10 == 0 else "sms",
                kind=kind,
                body="Alongside: a tip",
                dedupe_key=f"{prefix}:{n}",
                send_at=now - span + step * n,
                status=status,
                status_reason=REASONS.get(status, ""),
                error_code=ERRORS.get(status, "") if n % 40 < 20 else "",
                tip=tips[n % len(tips)] if kind == "tip" else None,
            )
        )
    sent = OutboundMessage.objects.bulk_create(rows, batch_size=5000)
    ConsentRecord.objects.bulk_create(
        [
            ConsentRecord(
                caregiver=c,
                channel="sms",
                action="opt_in",
                source="web",
                address=c.phone,
                created_at=c.created_at + timedelta(minutes=5),
            )
            for c in caregivers[: people * 4 // 5]
        ]
        + [
            ConsentRecord(
                caregiver=caregivers[n % people],
                channel="sms",
                action="opt_out",
                source="sms",
                address=caregivers[n % people].phone,
                created_at=now - span + step * n,
            )
            for n in range(0, messages, 100)
        ],
        batch_size=5000,
    )
    texts = InboundMessage.objects.bulk_create(
        [
            InboundMessage(
                message_sid=f"SM{prefix}{n}",
                from_number="+12025550100",
                to_number=clinic.twilio_from_number,
                body="thanks",
                clinic=clinic,
                caregiver=caregivers[n % people] if n % 7 else None,
                action="stored",
                received_at=now - span + step * n,
            )
            for n in range(0, messages, 10)
        ],
        batch_size=5000,
    )
    CrisisAlert.objects.bulk_create(
        CrisisAlert(
            clinic=clinic,
            inbound=t,
            severity="danger",
            status="acknowledged",
            opened_at=t.received_at,
            acknowledged_at=t.received_at + timedelta(minutes=3 + n % 20),
        )
        for n, t in enumerate(texts[::100])
    )
    Appointment.objects.bulk_create(
        [
            Appointment(
                loved_one=families[n % people],
                starts_at=now - span + step * n,
                kind="infusion",
                status="completed",
                ride_arranged_at=(now - span + step * n - timedelta(hours=30 if n % 3 else 2)),
            )
            for n in range(0, messages, 20)
        ],
        batch_size=5000,
    )
    EmailEvent.objects.bulk_create(
        EmailEvent(event_id=f"{prefix}{n}", kind="bounced", clinic=clinic, occurred_at=now - span + step * n)
        for n in range(0, messages, 200)
    )
    TipResponse.objects.bulk_create(
        [
            TipResponse(
                message=m,
                tip_id=m.tip_id,
                caregiver_id=m.caregiver_id,
                clinic=clinic,
                value="helpful" if n % 4 else "not_for_me",
                channel="sms",
                responded_at=m.send_at,
            )
            for n, m in enumerate(sent)
            if m.tip_id and n % 5 == 0
        ],
        batch_size=5000,
    )
    return {"messages": messages, "caregivers": people, "texts": len(texts)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=f"{PG}/alongside_bench_dashboard")
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out")
    args = parser.parse_args()
    url = bench_database(args.database_url.rsplit("/", 1)[1])
    django_setup(url)

    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from caregiver.models import Caregiver, ConsentRecord
    from messaging.models import InboundMessage
    from tests import factories

    # The seed sets the times these fields otherwise take from the clock.
    for model, name in ((Caregiver, "created_at"), (ConsentRecord, "created_at"), (InboundMessage, "received_at")):
        model._meta.get_field(name).auto_now_add = False
    now = timezone.now()
    result: dict = {"machine": machine(), "weeks_stored": WEEKS, "weeks_asked": 12}
    client = Client()
    user = factories.UserFactory()
    client.force_login(user)
    clinics = {}
    for label, size in (("small", args.small), ("large", args.large)):
        clinic = factories.ClinicFactory(slug=f"bench-{label}", time_zone="America/Chicago")
        factories.StaffMembershipFactory(user=user, clinic=clinic)
        result[f"{label}_seeded"] = seed(clinic, size, now=now)
        clinics[label] = clinic
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    def measure(clinic, query: str = "") -> dict:
        path = f"/staff/dashboard/?clinic={clinic.pk}{query}"
        client.get(path)  # the session's first request writes to it: counted apart from the page's own
        seen: list = []

        def counted(execute, sql, params, many, context):
            seen.append((sql, params))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counted):
            response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"the dashboard failed ({response.status_code})")
        return {**timed(lambda: client.get(path), repeat=args.repeat), "queries": len(seen), "_seen": seen}

    small, large = measure(clinics["small"]), measure(clinics["large"])
    start = (now - timedelta(weeks=WEEKS)).date()
    whole = measure(clinics["large"], f"&start={start:%Y-%m-%d}&end={now.date():%Y-%m-%d}")
    plans = []
    for sql, params in large.pop("_seen"):
        if "GROUP BY" not in sql:
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT TEXT) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        table = re.search(r'FROM "(\w+)"', sql).group(1)
        plans.append(
            {
                "table": table,
                "scans": sorted(
                    set(
                        re.findall(
                            r"((?:Parallel )?(?:Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)"
                            r"(?: using \w+)? on \w+)",
                            plan,
                        )
                    )
                ),
                "ms": float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1)),
            }
        )
    small.pop("_seen")
    whole.pop("_seen")
    result.update(
        {
            "small_12_weeks": small,
            "large_12_weeks": large,
            "large_104_weeks": whole,
            "ratio_large_to_small_12_weeks": round(large["median_s"] / small["median_s"], 2),
            "ratio_104_to_12_weeks_large": round(whole["median_s"] / large["median_s"], 2),
            "explain_large_12_weeks": plans,
        }
    )
    write(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
