"""Dispatch throughput: N due SMS across 20 clinic senders, from the outbox table through the
dispatcher, Celery workers and the real `twilio` library to the local Twilio-compatible server,
against the *raw limit*: the same server driven by the same number of concurrent senders calling
the `twilio` library directly (no database, no Celery). Same run, side by side: the raw limit is
measured just before and just after the pipeline and averaged.

Bars: pipeline >= 0.5 x raw; >= 500 messages/s on 2 cores; 0 duplicates, 0 lost.

    .venv/bin/python bench/dispatch_bench.py --out var/bench/dispatch.json [--messages 20000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REDIS_URL, ROOT, bench_database, django_setup, machine, write
from tests.fakes.twilio_server import FakeTwilio

CLINICS = 20


def midday_zone() -> str:
    """A fixed-offset zone where it is early afternoon now, so quiet hours never hold a message back."""
    offset = (13 - datetime.now(UTC).hour + 12) % 24 - 12  # local = UTC + offset
    return "Etc/GMT" + (f"-{offset}" if offset > 0 else f"+{-offset}" if offset < 0 else "")


# --- The server ---------------------------------------------------------------------------------


def _serve_fake(commands) -> None:
    with FakeTwilio() as fake:
        commands.send((fake.base_url, fake.account_sid, fake.auth_token))
        while (command := commands.recv()) != "stop":
            if command == "bodies":
                commands.send([message["body"] for message in fake.messages])
            elif command == "clear":
                fake.clear()
                commands.send(True)


class FakeInItsOwnProcess:
    """The fake Twilio server in a process of its own, as Twilio is to us.

    In this process its threads would share one GIL with the dispatcher's ticks, and every
    tick would hold the server back while the pipeline, not the raw senders, was being timed.
    """

    def __enter__(self) -> FakeInItsOwnProcess:
        spawn = multiprocessing.get_context("spawn")
        self._commands, theirs = spawn.Pipe()
        self._process = spawn.Process(target=_serve_fake, args=(theirs,), daemon=True)
        self._process.start()
        self.base_url, self.account_sid, self.auth_token = self._commands.recv()
        return self

    def bodies(self) -> list[str]:
        self._commands.send("bodies")
        return self._commands.recv()

    def clear(self) -> None:
        self._commands.send("clear")
        self._commands.recv()

    def __exit__(self, *exc: object) -> None:
        self._commands.send("stop")
        self._process.join(10)


# --- The raw limit -----------------------------------------------------------------------------


def _raw_process(
    base_url: str, sid: str, token: str, jobs: list[tuple[str, str]], threads: int, ready, go, queue
) -> None:
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    def run(part: list[tuple[str, str]]) -> None:
        http = TwilioHttpClient(timeout=10)
        http.session.trust_env = False  # as our provider does: the raw limit gets the same tuning
        client = Client(sid, token, http_client=http, environment={})
        client.api.base_url = base_url
        go.wait()
        for to, body in part:
            client.messages.create(to=to, from_="+12025550199", body=body)

    workers = [threading.Thread(target=run, args=(jobs[i::threads],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    ready.put(True)
    for worker in workers:
        worker.join()
    queue.put(len(jobs))


def raw_limit(fake: FakeInItsOwnProcess, jobs: list[tuple[str, str]], *, processes: int, threads: int) -> float:
    """Messages/s with `processes` x `threads` senders calling twilio directly."""
    # Spawned, not forked: by now this process has threads (Django's and Celery's
    # connections) and a fork can copy a lock some thread holds, then wait on it forever. The clock
    # starts once every sender has imported twilio and is waiting for the go.
    spawn = multiprocessing.get_context("spawn")
    ready, go, queue = spawn.Queue(), spawn.Event(), spawn.Queue()
    children = [
        spawn.Process(
            target=_raw_process,
            args=(fake.base_url, fake.account_sid, fake.auth_token, jobs[i::processes], threads, ready, go, queue),
        )
        for i in range(processes)
    ]
    for child in children:
        child.start()
    for _ in children:
        ready.get()
    start = time.perf_counter()
    go.set()
    sent = sum(queue.get() for _ in children)
    elapsed = time.perf_counter() - start
    for child in children:
        child.join()
    return sent / elapsed


# --- The pipeline --------------------------------------------------------------------------------


def seed(count: int) -> None:
    from caregiver.models import Caregiver, ConsentRecord
    from messaging.models import OutboundMessage
    from tests import factories

    zone = midday_zone()
    clinics = [factories.ClinicFactory(sms_mps=1000, twilio_from_number=f"+120255501{i:02d}") for i in range(CLINICS)]
    caregivers = Caregiver.objects.bulk_create(
        Caregiver(clinic=clinics[i % CLINICS], name=f"C{i}", phone=f"+1{2025550000 + i}" if i < 10_000
                  else f"+1{3125550000 + i - 10_000}", time_zone=zone, status="active")
        for i in range(count)
    )  # fmt: skip
    ConsentRecord.objects.bulk_create(
        ConsentRecord(
            caregiver=c, channel="sms", address=c.phone, action="opt_in", source="staff", consent_text_version="bench"
        )
        for c in caregivers
    )
    now = datetime.now(UTC)
    OutboundMessage.objects.bulk_create(
        (OutboundMessage(caregiver=c, channel="sms", kind="tip", body=f"Alongside: bench tip {i}",
                         dedupe_key=f"bench:{i}", send_at=now, status="scheduled")
         for i, c in enumerate(caregivers)),
        batch_size=2000,
    )  # fmt: skip


def start_workers(env: dict[str, str], *, processes: int, threads: int) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel=WARNING",
                "--pool=threads",
                f"--concurrency={threads}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"bench{i}-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        for i in range(processes)
    ]


def pipeline(count: int, *, timeout: float) -> tuple[float, dict[str, int]]:
    from django.conf import settings
    from django.db.models import Count

    from messaging import dispatch
    from messaging.models import OutboundMessage
    from messaging.tasks import _enqueue

    start = time.perf_counter()
    deadline = start + timeout
    while time.perf_counter() < deadline:
        # What beat does every DISPATCH_INTERVAL_SECONDS, here back to back.
        dispatch.dispatch_due(
            now=datetime.now(UTC), batch_size=settings.DISPATCH_BATCH_SIZE, max_per_tick=count, enqueue=_enqueue
        )
        if not OutboundMessage.objects.exclude(status__in=["sent", "failed", "suppressed"]).exists():
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - start
    statuses = dict(OutboundMessage.objects.values_list("status").annotate(n=Count("id")))
    return count / elapsed, statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=2, help="worker processes (and raw sender processes)")
    parser.add_argument("--threads", type=int, default=16, help="sending threads per process")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--out")
    args = parser.parse_args()

    queue = f"bench-dispatch-{os.getpid()}"
    django_setup(bench_database("alongside_bench_dispatch"), CELERY_QUEUE=queue)
    from config.celery import app

    with FakeInItsOwnProcess() as fake:
        # The raw limit is measured just before and just after the pipeline, half the messages
        # each, and averaged: a machine whose load changes during the run skews both sides alike.
        raw_jobs = [(f"+1{3125550000 + i}", f"raw {i}") for i in range(args.messages)]
        half = len(raw_jobs) // 2
        raw_before = raw_limit(fake, raw_jobs[:half], processes=args.processes, threads=args.threads)
        fake.clear()
        seed(args.messages)
        env = {
            **os.environ, "SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": fake.account_sid,
            "TWILIO_AUTH_TOKEN": fake.auth_token, "TWILIO_API_BASE_URL": fake.base_url, "REDIS_URL": REDIS_URL,
            "CELERY_BROKER_URL": REDIS_URL, "CELERY_QUEUE": queue, "LOG_LEVEL": "WARNING",
        }  # fmt: skip
        workers = start_workers(env, processes=args.processes, threads=args.threads)
        try:
            _wait_for_workers(app, len(workers))
            rate, statuses = pipeline(args.messages, timeout=args.timeout)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(30)
        accepted = fake.bodies()
        fake.clear()
        raw_after = raw_limit(fake, raw_jobs[half:], processes=args.processes, threads=args.threads)
        raw = (raw_before + raw_after) / 2
        bench_bodies = [body for body in accepted if body.startswith("Alongside: bench tip")]
        duplicates = len(bench_bodies) - len(set(bench_bodies))
        lost = args.messages - len(set(bench_bodies))
    result = {
        "machine": machine(),
        "settings": vars(args),
        "raw_messages_per_s": round(raw, 1),
        "raw_before_after": [round(raw_before, 1), round(raw_after, 1)],
        "pipeline_messages_per_s": round(rate, 1),
        "ratio": round(rate / raw, 2),
        "bar_ratio": "pass" if rate / raw >= 0.5 else "MISS",
        "bar_500_per_s": "pass" if rate >= 500 else "MISS",
        "duplicates": duplicates,
        "lost": lost,
        "statuses": statuses,
    }
    write(args.out, result)
    print(
        f"raw {raw:,.0f}/s   pipeline {rate:,.0f}/s   ratio {rate / raw:.2f} (bar >= 0.5: {result['bar_ratio']}; "
        f">= 500/s: {result['bar_500_per_s']})   duplicates {duplicates}   lost {lost}",
        file=sys.stderr,
    )
    return 0 if duplicates == 0 and lost == 0 else 1


def _wait_for_workers(app, count: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(app.control.ping(timeout=0.5) or []) >= count:
            return
    raise RuntimeError("the Celery workers did not answer a ping within 60 s")


if __name__ == "__main__":
    raise SystemExit(main())
