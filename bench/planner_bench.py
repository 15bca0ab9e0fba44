"""Planner and dispatcher ticks with 10,000 and with 1,000,000 future messages stored and the same
number due. The bar: the 1M tick takes at most 1.5x the 10k tick, because the cost follows what
is due (or being planned), not what is stored; the query plans show the index doing that.

    .venv/bin/python bench/planner_bench.py --out var/bench/planner.json [--small 10000 --large 1000000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_database, django_setup, machine, timed, write

FILL_SQL = """
INSERT INTO messaging_outboundmessage
  (caregiver_id, channel, kind, "to", body, subject, html, dedupe_key, send_at, status, status_reason,
   attempts, needs_reconcile, provider_id, last_error, error_code, created_at, updated_at)
SELECT (%(caregivers)s::bigint[])[1 + g %% %(n)s], 'sms', 'tip', '', 'Alongside: a future tip', '', '',
       'bench-future:' || (%(offset)s + g),
       now() + interval '3 days' + (g || ' seconds')::interval, 'scheduled', '', 0, false, '', '', '', now(), now()
FROM generate_series(1, %(count)s) AS g
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1_000, help="messages due at each tick (both sizes)")
    parser.add_argument("--caregivers", type=int, default=500, help="active caregivers the planner plans for")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out")
    args = parser.parse_args()

    django_setup(bench_database("alongside_bench_planner"))
    from django.db import connection
    from django.utils import timezone

    from messaging import dispatch, planning
    from messaging.models import OutboundMessage

    caregivers = _families(args.caregivers)
    now = timezone.now()

    def fill(count: int, offset: int) -> None:
        with connection.cursor() as cursor:
            # Spread over every caregiver, as real future messages are.
            ids = [c.pk for c in caregivers]
            cursor.execute(FILL_SQL, {"caregivers": ids, "n": len(ids), "offset": offset, "count": count})
            cursor.execute("ANALYZE messaging_outboundmessage")

    due_keys = [f"bench-due:{i}" for i in range(args.due)]

    def reset_due() -> None:
        # The same `due` rows, due again: the dispatcher claims them afresh on every run.
        OutboundMessage.objects.filter(dedupe_key__in=due_keys).update(status="scheduled", lease_expires_at=None)

    OutboundMessage.objects.bulk_create(
        OutboundMessage(caregiver=caregivers[i % len(caregivers)], channel="sms", kind="tip", body="due",
                        dedupe_key=key, send_at=now, status="scheduled")
        for i, key in enumerate(due_keys)
    )  # fmt: skip

    def dispatch_tick() -> None:
        dispatch.dispatch_due(now=timezone.now(), batch_size=500, max_per_tick=args.due, enqueue=lambda ids: None)

    def plan_tick() -> None:
        planning.plan_window(now=now)

    results = {"machine": machine(), "settings": vars(args), "sizes": {}}
    fill(args.small, 0)
    planning.plan_window(now=now)  # the first tick creates the window's rows; later ticks find them
    for label, _size in (("small", args.small), ("large", args.large)):
        if label == "large":
            fill(args.large - args.small, args.small)
        stored = OutboundMessage.objects.count()
        results["sizes"][label] = {
            "stored_rows": stored,
            "dispatch_tick": timed(dispatch_tick, repeat=args.repeat, reset=reset_due),
            "plan_tick": timed(plan_tick, repeat=args.repeat),
            "plans": _plans(connection, now),
        }
        print(f"{label}: {stored} rows stored", file=sys.stderr)
    for tick in ("dispatch_tick", "plan_tick"):
        small = results["sizes"]["small"][tick]["median_s"]
        large = results["sizes"]["large"][tick]["median_s"]
        results[f"{tick}_ratio"] = round(large / small, 2)
        results[f"{tick}_bar"] = "pass" if large / small <= 1.5 else "MISS"
    write(args.out, results)
    for tick in ("dispatch_tick", "plan_tick"):
        small, large = (results["sizes"][k][tick]["median_s"] * 1000 for k in ("small", "large"))
        print(
            f"{tick:14} {args.small:>9,} stored: {small:7.1f} ms   {args.large:>9,} stored: {large:7.1f} ms   "
            f"ratio {results[tick + '_ratio']:.2f} (bar <= 1.5: {results[tick + '_bar']})",
            file=sys.stderr,
        )
    return 0


def _families(count: int):
    from datetime import timedelta

    from django.utils import timezone

    from caregiver.models import Appointment, Caregiver, CareLink, ConsentRecord, LovedOne
    from tests import factories

    clinic = factories.ClinicFactory()
    loved_ones = LovedOne.objects.bulk_create(LovedOne(clinic=clinic, first_name="Alex") for _ in range(count))
    caregivers = Caregiver.objects.bulk_create(
        Caregiver(clinic=clinic, name=f"Caregiver {i}", phone=f"+1202555{i:04d}"[:12], time_zone="America/New_York",
                  tip_frequency="daily", status="active")
        for i in range(count)
    )  # fmt: skip
    CareLink.objects.bulk_create(
        CareLink(caregiver=c, loved_one=lo) for c, lo in zip(caregivers, loved_ones, strict=True)
    )
    ConsentRecord.objects.bulk_create(
        ConsentRecord(caregiver=c, channel="sms", action="opt_in", source="staff", consent_text_version="bench")
        for c in caregivers
    )
    start = timezone.now() + timedelta(hours=20)
    Appointment.objects.bulk_create(
        Appointment(loved_one=lo, starts_at=start + timedelta(minutes=i % 600)) for i, lo in enumerate(loved_ones)
    )
    return caregivers


def _plans(connection, now) -> dict[str, str]:
    """EXPLAIN of the two questions that must stay cheap however big the table grows."""
    queries = {
        "due_claim": (
            "SELECT id FROM messaging_outboundmessage WHERE status = 'scheduled' AND send_at <= %s "
            "ORDER BY send_at LIMIT 500 FOR UPDATE SKIP LOCKED",
            [now],
        ),
        "existing_keys": (
            "SELECT id, dedupe_key, status FROM messaging_outboundmessage WHERE dedupe_key = ANY(%s)",
            [["bench-due:1", "bench-due:2", "bench-due:3"]],
        ),
    }
    plans = {}
    with connection.cursor() as cursor:
        for name, (sql, params) in queries.items():
            cursor.execute("EXPLAIN " + sql, params)
            plans[name] = "\n".join(row[0] for row in cursor.fetchall())
    return plans


if __name__ == "__main__":
    raise SystemExit(main())
