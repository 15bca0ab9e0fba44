"""Worker and Redis memory with 1,000 and with 100,000 future messages: our design and the naive
one, side by side in the same run.

Ours: a future message is an OutboundMessage row with its send_at; the beat job asks the database
what is due, and the worker only ever holds what it is sending. The naive design, as simple
tutorials write it: one Celery task per message, published with an ETA a day ahead. With the Redis
transport a worker takes ETA tasks off the queue at once (each raises its prefetch limit by one;
past 65,535 Celery drops the limit altogether, warning once per task) and holds them in memory
until they are due, while Redis keeps a copy of each in its `unacked` hash. A short third run
shows the naive design's other hazard: once a held task is older than the transport's
visibility_timeout (an hour by default), Redis hands it out again, and it will run twice.

Both designs run the same kind of worker: the project's Celery settings (read from Django
settings), the Procfile's shape (prefork pool, concurrency 2), Django and the project's task
modules loaded. Each design gets one worker, measured idle, with the small number of future
messages, and again after the number has grown to the large one, as a long-running worker sees it.

Bar: our worker's memory with the large number of future messages <= 1.2x the small one.

    .venv/bin/python bench/memory_bench.py --out var/bench/memory.json [--small 1000 --large 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from celery import Celery

from bench.common import REDIS_URL, ROOT, bench_database, django_setup, machine, write

NAIVE_TASK = "bench.memory.remind"
POOL = ["--pool=prefork", "--concurrency=2"]  # as the Procfile's worker
SIZES = ("small", "large")
LOG_DIR = ROOT / "var" / "bench" / f"memory-{os.getpid()}"  # kept only when the run fails

# The naive design's worker: the project's Celery settings, the project's task modules (so it
# starts the same size as ours) and one task that would send a reminder when its ETA comes.
# BENCH_TRANSPORT_OPTIONS lets the hazard run shorten the visibility timeout without touching
# the project's settings.
naive_app = Celery("alongside-naive-bench")
naive_app.config_from_object("django.conf:settings", namespace="CELERY")
naive_app.conf.broker_transport_options = json.loads(os.environ.get("BENCH_TRANSPORT_OPTIONS", "{}"))
naive_app.autodiscover_tasks()


@naive_app.task(name=NAIVE_TASK, ignore_result=True)
def remind(message_id: int) -> int:
    return message_id


FILL_SQL = """
INSERT INTO messaging_outboundmessage
  (caregiver_id, channel, kind, "to", body, subject, html, dedupe_key, send_at, status, status_reason,
   attempts, needs_reconcile, provider_id, last_error, error_code, created_at, updated_at, plan_digest)
SELECT (%(caregivers)s::bigint[])[1 + g %% %(n)s], 'sms', 'tip', '', 'Alongside: a tip for tomorrow', '', '',
       'bench-memory:' || g, now() + interval '1 day' + (g %% 3600 || ' seconds')::interval, 'scheduled', '', 0,
       false, '', '', '', now(), now(), ''
FROM generate_series(%(first)s, %(last)s) AS g
"""


# --- Measuring ---------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (the prefork children), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone between listing and reading
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def worker_memory(pid: int) -> dict:
    """RSS and PSS summed over the worker's processes, in MB, and the CPU seconds they have used.

    RSS counts pages the prefork children share with their parent once per process, so the sum
    overstates the machine's cost; PSS splits shared pages between the sharers and adds up honestly.
    Both are given; the ratios use RSS, the figure `ps` and container limits show. CPU seconds
    do not depend on what else the machine is running, as wall-clock time does.
    """
    rss_kb = pss_kb = ticks = 0
    pids = process_tree(pid)
    for each in pids:
        try:
            rollup = Path(f"/proc/{each}/smaps_rollup").read_text()
            stat = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(stat[11]) + int(stat[12])  # utime and stime, fields 14 and 15 of proc(5)
        for line in rollup.splitlines():
            if line.startswith("Rss:"):
                rss_kb += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss_kb += int(line.split()[1])
    return {
        "processes": len(pids),
        "rss_mb": round(rss_kb / 1024, 1),
        "pss_mb": round(pss_kb / 1024, 1),
        "cpu_s": round(ticks / os.sysconf("SC_CLK_TCK"), 1),
    }


def settled_memory(pid: int, *, timeout: float = 20) -> dict:
    """Worker memory once two samples half a second apart agree within 1%."""
    last = worker_memory(pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = worker_memory(pid)
        if abs(now["rss_mb"] - last["rss_mb"]) <= 0.01 * last["rss_mb"]:
            return now
        last = now
    return last


def redis_memory(client) -> dict:
    """What the bench's own Redis database holds, and the server's used_memory.

    `key_bytes` sums MEMORY USAGE (SAMPLES 0: every element counted) over the keys in the bench's
    database, so other databases on the same server (tests, other benchmarks) do not blur it.
    used_memory is the whole server's and is reported as a delta from the run's baseline only as
    a cross-check.
    """
    keys = {key.decode(): client.memory_usage(key, samples=0) or 0 for key in client.scan_iter(count=1000)}
    return {
        "keys": len(keys),
        "key_bytes": sum(keys.values()),
        "used_memory": client.info("memory")["used_memory"],
        "largest": dict(sorted(keys.items(), key=lambda kv: -kv[1])[:3]),
    }


def ratio(large: float, small: float) -> float | None:
    return round(large / small, 2) if small else None


def progress(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> float:
    """Seconds until condition() holds; raises after timeout."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)
    return time.monotonic() - start


# --- Workers -----------------------------------------------------------------------------------


def start_worker(app_path: str, *, queue: str, name: str, env: dict[str, str]) -> subprocess.Popen:
    """A worker whose output goes to a log file: past 65,535 held ETA tasks the naive worker warns
    once per task, which would bury the run's own output."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(log_path(name), "w") as log:
        return subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", app_path, "worker", "--loglevel=WARNING", *POOL, "-Q", queue,
                "-n", name, "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            cwd=ROOT, env={**env, "CELERY_QUEUE": queue}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def log_path(name: str) -> Path:
    return LOG_DIR / f"{name.split('@')[0]}.log"


def log_warnings(name: str) -> dict[str, int]:
    """The worker's logged warnings, counted by message."""
    counts: dict[str, int] = {}
    for line in log_path(name).read_text(errors="replace").splitlines():
        if ": WARNING/" in line:
            message = line.split("] ", 1)[-1]
            counts[message] = counts.get(message, 0) + 1
    return counts


def stop_worker(worker: subprocess.Popen, *, kill: bool) -> None:
    """Stop the worker and its pool children.

    `kill` skips the warm shutdown: a naive worker holding 100,000 ETA tasks would spend its
    shutdown handing each back to Redis one transaction at a time, only for us to delete them.
    """
    if worker.poll() is None:
        try:
            os.killpg(worker.pid, signal.SIGKILL if kill else signal.SIGTERM)
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
        except ProcessLookupError:
            pass


def wait_for_ping(app: Celery, name: str, worker: subprocess.Popen) -> None:
    def answered() -> bool:
        if worker.poll() is not None:
            raise RuntimeError(f"the worker {name} exited with status {worker.returncode}")
        return bool(app.control.ping(destination=[name], timeout=0.5))

    wait_for(answered, timeout=60, what=f"the worker {name} to answer a ping")


def tasks_run(app: Celery, name: str) -> dict[str, int]:
    replies = app.control.inspect(destination=[name], timeout=2).stats() or {}
    return replies.get(name, {}).get("total", {})


# --- Our design ---------------------------------------------------------------------------------


class Ours:
    """N OutboundMessage rows due a day ahead; a worker running the dispatcher's beat job."""

    def __init__(self, *, env: dict[str, str], queue: str, redis, ticks: int, timeout: float) -> None:
        from caregiver.models import Caregiver
        from config.celery import app
        from tests import factories

        self.app, self.env, self.queue, self.redis = app, env, queue, redis
        self.ticks, self.timeout, self.filled = ticks, timeout, 0
        clinic = factories.ClinicFactory()
        self.caregivers = [
            c.pk
            for c in Caregiver.objects.bulk_create(
                Caregiver(clinic=clinic, name=f"Caregiver {i}", phone=f"+1202555{i:04d}", status="active")
                for i in range(100)
            )
        ]

    def fill(self, count: int) -> None:
        """Grow the outbox to `count` future messages (the small size's rows are kept)."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                FILL_SQL,
                {"caregivers": self.caregivers, "n": len(self.caregivers), "first": self.filled + 1, "last": count},
            )
            cursor.execute("ANALYZE messaging_outboundmessage")
        self.filled = count

    def measure(self, sizes: dict[str, int]) -> dict:
        """One worker, measured idle and then with each size of outbox, grown in place."""
        name = f"memory-ours-{os.getpid()}@bench"
        worker = start_worker("config", queue=self.queue, name=name, env=self.env)
        try:
            wait_for_ping(self.app, name, worker)
            result = {"worker_idle": settled_memory(worker.pid)}
            baseline = redis_memory(self.redis)
            for step, (label, count) in enumerate(sizes.items(), start=1):
                result[label] = self.step(count, ticks_so_far=step * self.ticks, name=name, worker=worker)
                progress(f"ours: {count:,} future messages, worker {result[label]['worker']['rss_mb']} MB")
                result[label]["redis_used_memory_delta"] = (
                    result[label]["redis"]["used_memory"] - baseline["used_memory"]
                )
        finally:
            stop_worker(worker, kill=False)
        result["worker_warnings"] = log_warnings(name)
        return result

    def step(self, count: int, *, ticks_so_far: int, name: str, worker: subprocess.Popen) -> dict:
        from django.db import connection
        from django.db.models import Count

        from messaging.models import OutboundMessage

        start = time.perf_counter()
        self.fill(count)
        fill_s = time.perf_counter() - start
        # What beat publishes every DISPATCH_INTERVAL_SECONDS; the worker runs the real tick, which
        # asks PostgreSQL for what is due and finds nothing a day early.
        for _ in range(self.ticks):
            self.app.send_task("messaging.tasks.dispatch_task", queue=self.queue)
        wait_for(
            lambda: tasks_run(self.app, name).get("messaging.tasks.dispatch_task", 0) >= ticks_so_far,
            timeout=self.timeout, what="the dispatcher ticks",
        )  # fmt: skip
        memory = settled_memory(worker.pid)
        redis = redis_memory(self.redis)
        tasks = tasks_run(self.app, name)
        statuses = dict(OutboundMessage.objects.values_list("status").annotate(n=Count("id")))
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_total_relation_size('messaging_outboundmessage')")
            table_bytes = cursor.fetchone()[0]
        return {
            "future_messages": count,
            "fill_s": round(fill_s, 2),
            "worker": memory,
            "redis": redis,
            "tasks_run": tasks,
            "sent": tasks.get("messaging.tasks.send_task", 0),
            "statuses": statuses,
            "postgres_table_mb": round(table_bytes / 2**20, 1),
        }


# --- The naive design ------------------------------------------------------------------------------


class Naive:
    """N `apply_async(eta=tomorrow)` tasks, received and held by a real worker."""

    def __init__(self, *, env: dict[str, str], queue: str, redis, timeout: float) -> None:
        self.env, self.queue, self.redis, self.timeout = env, queue, redis, timeout

    def publish(self, count: int, *, first: int = 0) -> float:
        """Publish ETA tasks for messages first .. first + count - 1; returns the seconds it took.

        Each message is the one `remind.apply_async((i,), eta=...)` sends, built by Celery's own
        create_task_message and published over one connection with kombu's batch, which pipelines
        the LPUSHes 1,000 at a time. apply_async's per-call routing, signals and settings look-ups
        about triple the publishing time without changing what the worker and Redis hold.
        """
        start_eta = datetime.now(UTC) + timedelta(days=1)
        start = time.perf_counter()
        with naive_app.producer_or_acquire() as producer, producer.batch(max_size=1000):
            for i in range(first, first + count):
                message = naive_app.amqp.create_task_message(
                    str(uuid.uuid4()), NAIVE_TASK, (i,), {}, eta=start_eta + timedelta(seconds=i % 3600),
                    reply_to=naive_app.thread_oid, time_limit=remind.time_limit,
                    soft_time_limit=remind.soft_time_limit, ignore_result=remind.ignore_result,
                )  # fmt: skip
                producer.publish(
                    message.body, exchange="", routing_key=self.queue, headers=message.headers, serializer="json",
                    **message.properties,
                )  # fmt: skip
        return time.perf_counter() - start

    def received(self, count: int) -> bool:
        """The worker has taken every task off the queue (Redis moved each into `unacked`)."""
        return self.redis.llen(self.queue) == 0 and self.redis.hlen("unacked") >= count

    def held(self, name: str) -> list[str]:
        """Ids of the ETA tasks the worker holds in memory, one per copy."""
        replies = naive_app.control.inspect(destination=[name], timeout=10).scheduled() or {}
        return [entry["request"]["id"] for entry in replies.get(name, [])]

    def start(self, name: str, env: dict[str, str]) -> subprocess.Popen:
        worker = start_worker("bench.memory_bench:naive_app", queue=self.queue, name=name, env=env)
        wait_for_ping(naive_app, name, worker)
        return worker

    def measure(self, sizes: dict[str, int]) -> dict:
        """One worker, measured idle and then holding each number of future messages."""
        name = f"memory-naive-{os.getpid()}@bench"
        worker = self.start(name, self.env)
        try:
            result = {"worker_idle": settled_memory(worker.pid)}
            baseline = redis_memory(self.redis)
            published = 0
            for label, count in sizes.items():
                start = time.perf_counter()
                publish_s = self.publish(count - published, first=published)
                wait_for(lambda count=count: self.received(count), timeout=self.timeout, what=f"{count} tasks received")
                receive_s = time.perf_counter() - start
                held = None
                if count <= 5_000:  # Redis marks a task unacked as the worker fetches it, a moment before
                    # the worker puts it in its timer: ask until the worker says it holds them all.
                    wait_for(lambda count=count: len(self.held(name)) >= count, timeout=60, what=f"{count} tasks held")
                    held = len(self.held(name))
                result[label] = {
                    "future_messages": count,
                    "published": count - published,
                    "publish_s": round(publish_s, 4),
                    "publish_per_s": round((count - published) / publish_s),
                    "publish_to_all_received_s": round(receive_s, 2),
                    "worker": settled_memory(worker.pid),
                    "redis": redis_memory(self.redis),
                    "unacked_in_redis": self.redis.hlen("unacked"),
                    # Listing 100,000 held tasks would cost the worker memory of its own; the
                    # unacked hash already says they were received.
                    "held_in_worker": held,
                    "sent": tasks_run(naive_app, name).get(NAIVE_TASK, 0),
                }
                result[label]["redis_used_memory_delta"] = (
                    result[label]["redis"]["used_memory"] - baseline["used_memory"]
                )
                published = count
                progress(f"naive: {count:,} future messages, worker {result[label]['worker']['rss_mb']} MB")
        finally:
            stop_worker(worker, kill=True)
            self.redis.delete(self.queue, "unacked", "unacked_index", "unacked_mutex")
        result["worker_warnings"] = log_warnings(name)
        return result

    def hazard(self, count: int, *, visibility_timeout: int, wait: float) -> dict:
        """The same design with a short visibility_timeout: held tasks are handed out again."""
        options = {"visibility_timeout": visibility_timeout, "unacked_restore_interval": 1,
                   "unacked_restore_throttle": 1}  # fmt: skip
        name = f"memory-hazard-{os.getpid()}@bench"
        worker = self.start(name, {**self.env, "BENCH_TRANSPORT_OPTIONS": json.dumps(options)})
        try:
            self.publish(count)
            wait_for(lambda: self.received(count), timeout=self.timeout, what="the hazard run's tasks")
            time.sleep(wait)
            copies = self.held(name)
        finally:
            stop_worker(worker, kill=True)
            self.redis.delete(self.queue, "unacked", "unacked_index", "unacked_mutex")
        return {
            "tasks_published": count,
            "visibility_timeout_s": visibility_timeout,
            "waited_s": wait,
            "copies_held_in_worker": len(copies),
            "distinct_tasks_held": len(set(copies)),
            "duplicates": len(copies) - len(set(copies)),
        }


# --- The run -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--ticks", type=int, default=6, help="dispatcher ticks our worker runs before measuring")
    parser.add_argument("--hazard", type=int, default=100, help="ETA tasks in the visibility-timeout run (0: skip)")
    parser.add_argument("--hazard-wait", type=float, default=8.0, help="seconds the hazard run waits")
    parser.add_argument("--redis-db", type=int, default=7, help="a Redis database number the bench may empty")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for a worker at each step")
    parser.add_argument("--out")
    args = parser.parse_args()
    if not 0 < args.small < args.large:
        parser.error("--small must be positive and less than --large")

    broker = urlparse(REDIS_URL)._replace(path=f"/{args.redis_db}").geturl()
    ours_queue, naive_queue = f"bench-memory-ours-{os.getpid()}", f"bench-memory-naive-{os.getpid()}"
    progress("a fresh database")
    database = bench_database("alongside_bench_memory")
    django_setup(database, REDIS_URL=broker, CELERY_BROKER_URL=broker, CELERY_QUEUE=ours_queue)
    import redis

    client = redis.Redis.from_url(broker)
    # The database number is the bench's own: empty it so leftovers of a killed run do not count.
    client.flushdb()
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    ours = Ours(env=env, queue=ours_queue, redis=client, ticks=args.ticks, timeout=args.timeout)
    naive = Naive(env=env, queue=naive_queue, redis=client, timeout=args.timeout)
    sizes = {"small": args.small, "large": args.large}
    result: dict = {
        "machine": machine(),
        "settings": {**vars(args), "worker": " ".join(POOL), "broker": broker},
        # Wall-clock times depend on what else the machine runs; worker CPU seconds much less so.
        "load_average_at_start": os.getloadavg(),
    }
    try:
        result["ours"] = ours.measure(sizes)
        result["naive"] = naive.measure(sizes)
        if args.hazard:
            result["naive_hazard"] = naive.hazard(args.hazard, visibility_timeout=2, wait=args.hazard_wait)
    except BaseException:
        print(f"the workers' logs are in {LOG_DIR}", file=sys.stderr)
        raise
    else:
        shutil.rmtree(LOG_DIR, ignore_errors=True)
    finally:
        client.flushdb()
    for design in ("ours", "naive"):
        small, large = result[design]["small"], result[design]["large"]
        result[design]["worker_rss_ratio"] = ratio(large["worker"]["rss_mb"], small["worker"]["rss_mb"])
        result[design]["worker_pss_ratio"] = ratio(large["worker"]["pss_mb"], small["worker"]["pss_mb"])
        result[design]["redis_key_bytes_ratio"] = ratio(large["redis"]["key_bytes"], small["redis"]["key_bytes"])
    result["load_average_at_end"] = os.getloadavg()
    result["bar_ours_worker_rss"] = "pass" if result["ours"]["worker_rss_ratio"] <= 1.2 else "MISS"
    write(args.out, result)
    summarize(result, sizes)
    correct = (
        all(result["ours"][label]["sent"] == 0 for label in SIZES)
        and all(result["naive"][label]["unacked_in_redis"] == sizes[label] for label in SIZES)
    )  # fmt: skip
    return 0 if correct else 1


def summarize(result: dict, sizes: dict[str, int]) -> None:
    small, large = sizes["small"], sizes["large"]
    print(f"\n{'':24}{small:>12,}{large:>12,}   ratio", file=sys.stderr)
    for design in ("ours", "naive"):
        runs = result[design]
        rss = [runs[label]["worker"]["rss_mb"] for label in SIZES]
        kb = [runs[label]["redis"]["key_bytes"] / 1024 for label in SIZES]
        print(f"{design + ' worker RSS (MB)':24}{rss[0]:12.1f}{rss[1]:12.1f}   {runs['worker_rss_ratio']}",
              file=sys.stderr)  # fmt: skip
        print(f"{design + ' Redis (KB)':24}{kb[0]:12.1f}{kb[1]:12.1f}   {runs['redis_key_bytes_ratio']}",
              file=sys.stderr)  # fmt: skip
    naive = result["naive"]["large"]
    print(
        f"naive: {naive['published']:,} more ETA tasks published in {naive['publish_s']:.1f} s, all {large:,} "
        f"received after {naive['publish_to_all_received_s']:.1f} s; worker CPU {naive['worker']['cpu_s']} s; "
        f"bar (ours <= 1.2x): {result['bar_ours_worker_rss']}",
        file=sys.stderr,
    )
    if "naive_hazard" in result:
        hazard = result["naive_hazard"]
        print(
            f"naive hazard: {hazard['tasks_published']} tasks, visibility_timeout {hazard['visibility_timeout_s']} s: "
            f"{hazard['copies_held_in_worker']} copies held after {hazard['waited_s']:.0f} s "
            f"({hazard['duplicates']} duplicates)",
            file=sys.stderr,
        )


if __name__ == "__main__":
    raise SystemExit(main())
