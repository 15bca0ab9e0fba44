"""The planner and the dispatcher, measured where their cost could grow.

1. Caregivers (the bar of issue #9): a steady-state plan tick with --few (1,000) and with --many
   (100,000) active caregivers, each on a course with 12 weeks of appointments, the same
   --changed (500) of them changed since the last tick. Bar: `plan_tick_ratio_caregivers` <= 1.5,
   because the tick takes only who changed or is due. Also the first full plan of --many
   caregivers by two `plan_now` processes side by side (as two workers would), in caregivers a
   second.
2. Stored rows (the earlier bar): the dispatcher tick and the same steady plan tick with --small
   (10,000) and --large (1,000,000) future messages stored. Bar: ratio <= 1.5 each.

    .venv/bin/python bench/planner_bench.py --out var/bench/planner.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, bench_database, django_setup, machine, timed, write

FILL_SQL = """
INSERT INTO messaging_outboundmessage
  (caregiver_id, channel, kind, "to", body, subject, html, dedupe_key, send_at, status, status_reason,
   attempts, needs_reconcile, provider_id, last_error, error_code, created_at, updated_at, plan_digest)
SELECT (%(caregivers)s::bigint[])[1 + g %% %(n)s], 'sms', 'tip', '', 'Alongside: a future tip', '', '',
       'bench-future:' || (%(offset)s + g),
       now() + interval '5 days' + (g || ' seconds')::interval, 'scheduled', '', 0, false, '', '', '', now(), now(), ''
FROM generate_series(1, %(count)s) AS g
"""
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]
FREQUENCIES = ["daily", "three_weekly", "weekly", "three_weekly"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--few", type=int, default=1_000, help="caregivers, small size")
    parser.add_argument("--many", type=int, default=100_000, help="caregivers, large size")
    parser.add_argument("--changed", type=int, default=500, help="caregivers changed before each tick")
    parser.add_argument("--small", type=int, default=10_000, help="stored rows, small size")
    parser.add_argument("--large", type=int, default=1_000_000, help="stored rows, large size")
    parser.add_argument("--due", type=int, default=1_000, help="messages due at each dispatcher tick")
    parser.add_argument("--caregivers", type=int, default=500, help="caregivers in the stored-rows part")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out")
    args = parser.parse_args()

    results = {"machine": machine(), "settings": vars(args)}
    results |= caregivers_part(args)
    results |= stored_rows_part(args)
    write(args.out, results)
    for label, key in (("plan tick, caregivers", "plan_tick_caregivers"), ("plan tick, stored", "plan_tick"),
                       ("dispatch tick, stored", "dispatch_tick")):  # fmt: skip
        print(f"{label:22} ratio {results[key + '_ratio']:.2f} (bar <= 1.5: {results[key + '_bar']})", file=sys.stderr)
    print(f"first full plan: {results['first_plan']['caregivers_per_s']:.0f} caregivers/s", file=sys.stderr)
    return 0


# --- 1. Caregivers ----------------------------------------------------------------------------------


def caregivers_part(args) -> dict:
    url = bench_database("alongside_bench_planner_caregivers")
    django_setup(url)
    from django.db import connection
    from django.utils import timezone

    clinic = _clinic()
    now = timezone.now()
    sizes = {}
    made = 0
    for label, size in (("few", args.few), ("many", args.many)):
        start = time.perf_counter()
        _families(clinic, size - made, offset=made, now=now)
        made = size
        built = time.perf_counter() - start
        print(f"{label}: {size:,} caregivers built in {built:.0f} s; planning them...", file=sys.stderr)
        first = _plan_with_two_processes(url)
        first["caregivers"] = size
        first["caregivers_per_s"] = round(size / first["seconds"], 1)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        sizes[label] = {
            "caregivers": size,
            "outbox_rows": _count("messaging_outboundmessage"),
            "appointments": _count("caregiver_appointment"),
            "first_plan": first,
            "plan_tick": _steady_ticks(args),
            "plans": _claim_plans(connection),
        }
        print(f"{label}: steady tick {sizes[label]['plan_tick']['median_s'] * 1000:.0f} ms", file=sys.stderr)
    ratio = sizes["many"]["plan_tick"]["median_s"] / sizes["few"]["plan_tick"]["median_s"]
    return {
        "caregivers": sizes,
        "plan_tick_caregivers_ratio": round(ratio, 2),
        "plan_tick_ratio_caregivers": round(ratio, 2),
        "plan_tick_caregivers_bar": "pass" if ratio <= 1.5 else "MISS",
        "first_plan": sizes["many"]["first_plan"],
    }


def _clinic():
    from tests import factories

    return factories.ClinicFactory(name="Bench Clinic")


def _families(clinic, count: int, *, offset: int, now) -> None:
    """`count` families, each a loved one, one active consenting caregiver and a 12-week course
    (six infusions on Monday, Wednesday and Friday, then a booster every two weeks), the courses
    started on different days of the last 12 weeks so that every phase is under way."""
    from caregiver.models import Appointment, Caregiver, CareLink, ConsentRecord, LovedOne

    batch = 5000
    for first in range(offset, offset + count, batch):
        numbers = range(first, min(first + batch, offset + count))
        loved_ones = LovedOne.objects.bulk_create(LovedOne(clinic=clinic, first_name="Alex") for _ in numbers)
        caregivers = Caregiver.objects.bulk_create(
            Caregiver(clinic=clinic, name=f"Caregiver {i}", phone=f"+1212{i:07d}", time_zone=ZONES[i % 4],
                      tip_frequency=FREQUENCIES[i % 4], status="active", plan_dirty=True)
            for i in numbers
        )  # fmt: skip
        CareLink.objects.bulk_create(
            CareLink(caregiver=c, loved_one=lo) for c, lo in zip(caregivers, loved_ones, strict=True)
        )
        ConsentRecord.objects.bulk_create(
            ConsentRecord(
                caregiver=c,
                channel="sms",
                address=c.phone,
                action="opt_in",
                source="staff",
                consent_text_version="bench",
            )
            for c in caregivers
        )
        appointments = []
        for i, loved_one in zip(numbers, loved_ones, strict=True):
            start = (now - timedelta(days=i % 84)).replace(hour=15, minute=0, second=0, microsecond=0)
            start -= timedelta(days=start.weekday())  # a Monday
            days = [0, 2, 4, 7, 9, 11] + [11 + 14 * k for k in range(1, 6)]
            appointments += [
                Appointment(loved_one=loved_one, starts_at=start + timedelta(days=d, minutes=i % 240),
                            kind="infusion" if n < 6 else "booster")
                for n, d in enumerate(days)
            ]  # fmt: skip
        Appointment.objects.bulk_create(appointments, batch_size=batch)


def _plan_with_two_processes(url: str) -> dict:
    """Everyone marked is planned by two `plan_now` processes side by side, each claiming 500 at a
    time under a lease (SKIP LOCKED), as two workers would share the tick's batches."""
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "LOG_LEVEL": "WARNING", "PLAN_MAX_PER_TICK": "500"}  # fmt: skip
    start = time.perf_counter()
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "plan_now"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [w.communicate()[0].strip() for w in workers]
    seconds = time.perf_counter() - start
    if any(w.returncode for w in workers):
        raise SystemExit(f"plan_now failed: {outputs}")
    return {"seconds": round(seconds, 1), "processes": 2, "reports": outputs}


def _steady_ticks(args) -> dict:
    """The same `changed` caregivers change their tip time before each tick (alternating, so each
    tick rewrites their tips); the tick claims them and syncs them in this process."""
    from django.utils import timezone

    from caregiver.models import Caregiver
    from messaging import planning

    ids = list(Caregiver.objects.order_by("id").values_list("id", flat=True))
    step = max(1, len(ids) // args.changed)
    changed = ids[::step][: args.changed]
    turn = {"n": 0}

    def change() -> None:
        turn["n"] += 1
        hour = 10 if turn["n"] % 2 else 16
        Caregiver.objects.filter(pk__in=changed).update(tip_time=f"{hour}:00", plan_dirty=True)

    def tick() -> None:
        result = planning.plan_due(now=timezone.now())
        if result["synced"] != len(changed):
            raise SystemExit(f"the tick synced {result['synced']} caregivers, not the {len(changed)} changed")

    tick_times = timed(tick, repeat=args.repeat, reset=change)
    return tick_times


def _claim_plans(connection) -> dict[str, str]:
    from django.utils import timezone

    now = timezone.now()
    queries = {
        "dirty": (
            "SELECT id FROM caregiver_caregiver WHERE plan_dirty "
            "AND (plan_lease_until IS NULL OR plan_lease_until < %s) LIMIT 500 FOR UPDATE SKIP LOCKED",
            [now],
        ),
        "short_of_horizon": (
            "SELECT id FROM caregiver_caregiver WHERE status = 'active' AND planned_until < %s AND NOT plan_dirty "
            "AND (plan_lease_until IS NULL OR plan_lease_until < %s) ORDER BY planned_until LIMIT 500 "
            "FOR UPDATE SKIP LOCKED",
            [now + timedelta(hours=36), now],
        ),
    }
    return _explain(connection, queries)


def _count(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - a table name of ours
        return cursor.fetchone()[0]


def _explain(connection, queries: dict) -> dict[str, str]:
    plans = {}
    with connection.cursor() as cursor:
        for name, (sql, params) in queries.items():
            cursor.execute("EXPLAIN " + sql, params)
            plans[name] = "\n".join(row[0] for row in cursor.fetchall())
    return plans


# --- 2. Stored rows -------------------------------------------------------------------------------


def stored_rows_part(args) -> dict:
    from django.db import connection, connections

    connections.close_all()
    url = bench_database("alongside_bench_planner")
    connections["default"].settings_dict["NAME"] = "alongside_bench_planner"
    os.environ["DATABASE_URL"] = url
    from django.utils import timezone

    from caregiver.models import Caregiver
    from messaging import dispatch, planning
    from messaging.models import OutboundMessage

    clinic = _clinic()
    _families(clinic, args.caregivers, offset=0, now=timezone.now())
    caregivers = list(Caregiver.objects.values_list("id", flat=True))
    planning.plan_due(now=timezone.now())
    # The stored rows belong to other caregivers, planned long ago (the planner never takes them):
    # the rows of the caregivers a tick syncs stay what one caregiver has, however full the table.
    others = [
        c.pk
        for c in Caregiver.objects.bulk_create(
            Caregiver(clinic=clinic, name=f"Other {i}", phone=f"+1313{i:07d}", time_zone=ZONES[0], status="active",
                      plan_dirty=False, planned_until=timezone.now() + timedelta(days=3650))
            for i in range(1000)
        )
    ]  # fmt: skip

    def fill(count: int, offset: int) -> None:
        with connection.cursor() as cursor:
            # Spread over the other caregivers, beyond the horizon, as real future rows are.
            cursor.execute(FILL_SQL, {"caregivers": others, "n": len(others), "offset": offset, "count": count})
            cursor.execute("ANALYZE messaging_outboundmessage")

    due_keys = [f"bench-due:{i}" for i in range(args.due)]

    def reset_due() -> None:
        # The same `due` rows, due again: the dispatcher claims them afresh on every run.
        OutboundMessage.objects.filter(dedupe_key__in=due_keys).update(status="scheduled", lease_expires_at=None)

    now = timezone.now()
    OutboundMessage.objects.bulk_create(
        OutboundMessage(caregiver_id=caregivers[i % len(caregivers)], channel="sms", kind="confirmation", body="due",
                        dedupe_key=key, send_at=now, status="scheduled")
        for i, key in enumerate(due_keys)
    )  # fmt: skip

    def dispatch_tick() -> None:
        dispatch.dispatch_due(now=timezone.now(), batch_size=500, max_per_tick=args.due, enqueue=lambda ids: None)

    def change_all() -> None:
        Caregiver.objects.filter(pk__in=caregivers).update(plan_dirty=True)

    def plan_tick() -> None:
        planning.plan_due(now=timezone.now())

    sizes = {}
    fill(args.small, 0)
    for label in ("small", "large"):
        if label == "large":
            fill(args.large - args.small, args.small)
        stored = OutboundMessage.objects.count()
        sizes[label] = {
            "stored_rows": stored,
            "dispatch_tick": timed(dispatch_tick, repeat=args.repeat, reset=reset_due),
            "plan_tick": timed(plan_tick, repeat=args.repeat, reset=change_all),
            "plans": _explain(
                connection,
                {
                    "due_claim": (
                        "SELECT id FROM messaging_outboundmessage WHERE status = 'scheduled' AND send_at <= %s "
                        "ORDER BY send_at LIMIT 500 FOR UPDATE SKIP LOCKED",
                        [now],
                    ),
                    "caregiver_rows": (
                        "SELECT id FROM messaging_outboundmessage WHERE caregiver_id = %s AND send_at >= %s",
                        [caregivers[0], now],
                    ),
                },
            ),
        }
        print(f"{label}: {stored} rows stored", file=sys.stderr)
    out = {"sizes": sizes}
    for tick in ("dispatch_tick", "plan_tick"):
        small, large = sizes["small"][tick]["median_s"], sizes["large"][tick]["median_s"]
        out[f"{tick}_ratio"] = round(large / small, 2)
        out[f"{tick}_bar"] = "pass" if large / small <= 1.5 else "MISS"
    return out


if __name__ == "__main__":
    raise SystemExit(main())
