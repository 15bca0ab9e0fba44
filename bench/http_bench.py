"""HTTP throughput of the tip API and the Twilio webhooks against a hello-world view, side by side.

One gunicorn (sync workers, 2 x CPUs + 1 by default) serves the project on PostgreSQL and Redis
with bench/settings.py; `wrk` drives every endpoint for the same time with the same threads and
connections, each run between two hello-world runs, and each endpoint is compared with the mean of
its two neighbours.

Bars: tip list >= 0.6x hello world, its 304 >= 0.8x; signed inbound SMS and signed status
callbacks >= 0.6x the floor (/bench/stored/: hello world plus the one INSERT any durable webhook
must make), as ratios of ratios from the same run. Every webhook must be processed exactly once:
a missed speed bar is reported, a correctness failure makes the exit status 1.

    .venv/bin/python bench/http_bench.py --out var/bench/http.json [--duration 10] [--quick]

Needs `wrk` (Debian: `sudo apt-get install wrk`), PostgreSQL at 127.0.0.1:5432 and Redis.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, STORED_TABLE_CREATE, bench_database, django_setup, machine

DATABASE = "alongside_bench_http"
WORK_DIR = ROOT / "var" / "bench" / "http"
LUA_SCRIPT = ROOT / "bench" / "wrk" / "signed_posts.lua"
WRK_MISSING = "wrk is not installed. On Debian or Ubuntu: sudo apt-get install wrk (https://github.com/wg/wrk)."

# gunicorn's own starting point for sync workers: while one waits on PostgreSQL or Redis, another
# uses the core. Hello world is served by the same workers, so the comparison stays like for like.
DEFAULT_WORKERS = 2 * (os.cpu_count() or 1) + 1

TIPS_PATH = "/api/v1/tips/?page_size=50"
HELLO_PATH = "/bench/hello/"
STORED_PATH = "/bench/stored/"
INBOUND_PATH = "/webhooks/twilio/inbound/"
STATUS_PATH = "/webhooks/twilio/status/"

CLINIC_NUMBER = "+12025550199"
ACCOUNT_SID = "AC" + "b" * 32
# Fictional 555-01xx numbers, a hundred per area code.
AREA_CODES = ("202", "212", "303", "312", "404", "415", "503", "512", "617", "206")
# What caregivers mostly text back: no keyword, no crisis words, so it is stored for staff.
PLAIN_REPLIES = (
    "thanks",
    "Thank you!",
    "ok",
    "Thanks, that helps a lot",
    "Will do",
    "Got it, thank you",
    "She had a good day today",
    "He slept most of the afternoon",
    "We're at the clinic now",
    "Thanks for the reminder 🙏",
    "Good to know",
    "Appreciate it",
)


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    bar: float | None  # against hello world; None: measured to explain the others, no bar of its own
    floor_bar: float | None = None  # against the floor (the stored endpoint's req/s), for the webhooks


ENDPOINTS = (
    Endpoint("tips_list", "GET tips ?page_size=50", 0.6),
    Endpoint("tips_304", "GET tips, If-None-Match (304)", 0.8),
    Endpoint("inbound", "POST inbound SMS (signed)", None, floor_bar=0.6),
    Endpoint("status", "POST status callback (signed)", None, floor_bar=0.6),
    Endpoint("stored", "GET hello + 1 INSERT (floor)", None),
)


def floor_judge(rows: list[tuple[Endpoint, dict]]) -> None:
    """Judge the webhooks against the floor: each one's ratio to hello over the floor's ratio to hello."""
    floor = next(row for endpoint, row in rows if endpoint.key == "stored")
    for endpoint, row in rows:
        if endpoint.floor_bar is None:
            continue
        ratio = row["ratio"] / floor["ratio"] if floor["ratio"] else 0.0
        row.update(floor_ratio=round(ratio, 3), bar=endpoint.floor_bar, passed=ratio >= endpoint.floor_bar)


# --- Signed webhook requests ------------------------------------------------------------------


@dataclass(frozen=True)
class SignedPost:
    """A POST as Twilio would make it: form body, signature over the public URL and the params."""

    path: str
    signature: str
    body: str

    def line(self) -> str:
        """One line of the file bench/wrk/signed_posts.lua reads."""
        return f"{self.path}\t{self.signature}\t{self.body}"


def signed_post(*, base_url: str, path: str, params: Mapping[str, str], token: str) -> SignedPost:
    signature = RequestValidator(token).compute_signature(base_url + path, dict(params))
    return SignedPost(path=path, signature=signature, body=urlencode(params))


def message_sid(prefix: str, number: int) -> str:
    """A Twilio-shaped SID: SM and 32 hex digits, `prefix` first."""
    return f"SM{prefix}{number:0{32 - len(prefix)}x}"


def inbound_posts(
    *, base_url: str, token: str, senders: Sequence[str], to_number: str, count: int, prefix: str, seed: int = 0
) -> list[SignedPost]:
    """`count` texts from `senders` in turn, each with its own MessageSid, with the fields Twilio sends."""
    rng = random.Random(seed)
    posts = []
    for n in range(count):
        sid = message_sid(prefix, n)
        params = {
            "ToCountry": "US", "ToState": "DC", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "WASHINGTON",
            "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "",
            "Body": rng.choice(PLAIN_REPLIES), "FromCountry": "US", "To": to_number, "ToZip": "", "NumSegments": "1",
            "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": senders[n % len(senders)], "ApiVersion": "2010-04-01",
        }  # fmt: skip
        posts.append(signed_post(base_url=base_url, path=INBOUND_PATH, params=params, token=token))
    return posts


def status_posts(
    *, base_url: str, token: str, messages: Sequence[tuple[int, str, str]], from_number: str, status: str = "delivered"
) -> list[SignedPost]:
    """One callback per (message id, provider SID, to): the status Twilio reports for what we sent."""
    posts = []
    for message_id, sid, to in messages:
        params = {
            "SmsSid": sid, "SmsStatus": status, "MessageStatus": status, "To": to, "MessageSid": sid,
            "AccountSid": ACCOUNT_SID, "From": from_number, "ApiVersion": "2010-04-01",
        }  # fmt: skip
        posts.append(signed_post(base_url=base_url, path=f"{STATUS_PATH}?m={message_id}", params=params, token=token))
    return posts


def caregiver_phones(count: int) -> list[str]:
    if count > 100 * len(AREA_CODES):
        raise ValueError(f"At most {100 * len(AREA_CODES)} caregivers: that is all the fictional numbers we use.")
    return [f"+1{AREA_CODES[n // 100]}55501{n % 100:02d}" for n in range(count)]


# --- wrk output -----------------------------------------------------------------------------------

_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_TIME = r"([\d.]+)(us|ms|s|m|h)"


def parse_wrk(text: str) -> dict:
    """Requests/s, percentiles (ms), counts and errors from `wrk --latency` output (and our Lua counters)."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    total = re.search(rf"^\s*(\d+) requests in {_TIME},", text, re.MULTILINE)
    if not rps or not total:
        raise ValueError(f"Not wrk output (no Requests/sec or 'N requests in' line):\n{text}")
    percentiles = {
        float(p): float(value) * _TO_MS[unit]
        for p, value, unit in re.findall(rf"^\s+(\d+(?:\.\d+)?)%\s+{_TIME}\s*$", text, re.MULTILINE)
    }
    if 50.0 not in percentiles or 99.0 not in percentiles:
        raise ValueError(f"No latency distribution in the wrk output (was --latency given?):\n{text}")
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "rps": float(rps.group(1)),
        "requests": int(total.group(1)),
        "duration_s": round(float(total.group(2)) * _TO_MS[total.group(3)] / 1000, 3),
        "p50_ms": round(percentiles[50.0], 3),
        "p99_ms": round(percentiles[99.0], 3),
        "latency_ms": {f"p{p:g}": round(v, 3) for p, v in sorted(percentiles.items())},
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True))
        if sockets
        else {"connect": 0, "read": 0, "write": 0, "timeout": 0},
        # wrk counts statuses of 400 and above here, despite the label: a 304 is not an error.
        "error_responses": int(errors.group(1)) if errors else 0,
        "threads": [
            {"id": int(t), "loaded": int(loaded), "sent": int(sent)}
            for t, loaded, sent in re.findall(r"^signed-posts thread (\d+): loaded (\d+), sent (\d+)$", text, re.M)
        ],
    }


def sent_by_threads(items: Sequence[str], threads: Sequence[Mapping[str, int]]) -> tuple[list[str], int]:
    """Which items the Lua script sent (thread k of n takes items k-1, k-1+n...), and how many repeats."""
    count = len(threads)
    sent: list[str] = []
    repeats = 0
    for thread in threads:
        share = list(items[thread["id"] - 1 :: count])
        if len(share) != thread["loaded"]:
            raise ValueError(f"wrk thread {thread['id']} loaded {thread['loaded']} requests, expected {len(share)}.")
        sent += share[: thread["sent"]]
        repeats += max(0, thread["sent"] - len(share))
    return sent, repeats


# --- Judging --------------------------------------------------------------------------------------


def compare(
    *,
    rps: float,
    hello_rps: Sequence[float],
    bar: float | None,
    cpu_ms: float | None = None,
    hello_cpu_ms: Sequence[float] = (),
) -> dict:
    """An endpoint's req/s against the mean of the hello-world runs either side of it.

    The bar is judged on req/s. Server CPU per request is compared too: hello's over the
    endpoint's is the ratio the req/s would show on a machine doing nothing else.
    """
    hello = statistics.fmean(hello_rps)
    ratio = rps / hello if hello else 0.0
    hello_cpu = statistics.fmean(hello_cpu_ms) if hello_cpu_ms else None
    return {
        "rps": round(rps, 1),
        "hello_rps": [round(h, 1) for h in hello_rps],
        "hello_rps_mean": round(hello, 1),
        "ratio": round(ratio, 3),
        "bar": bar,
        "passed": ratio >= bar if bar is not None else None,
        "cpu_ms_per_request": cpu_ms,
        "hello_cpu_ms_per_request": round(hello_cpu, 3) if hello_cpu is not None else None,
        "cpu_ratio": round(hello_cpu / cpu_ms, 3) if hello_cpu and cpu_ms else None,
    }


def once_check(
    *,
    sent: Sequence[str],
    repeats: int,
    processed: Mapping[str, int],
    responses: int,
    error_responses: int,
    cut_off_allowance: int,
) -> dict:
    """Did each distinct request sent take effect exactly once?

    `processed` counts, per key, how many times the server acted on it. A request still in flight
    when wrk stopped may or may not have been processed: at most one per connection
    (`cut_off_allowance`). Every answered request must have been processed; repeats (duplicate
    deliveries) must have been answered without acting again.
    """
    distinct = set(sent)
    twice = sorted(key for key, n in processed.items() if n > 1)
    never_sent = sorted(key for key in processed if key not in distinct)
    acted = sum(1 for key in distinct if processed.get(key, 0) >= 1)
    unprocessed = len(distinct) - acted
    answered_distinct = responses - repeats
    passed = (
        not twice
        and not never_sent
        and error_responses == 0
        and unprocessed <= cut_off_allowance
        and acted >= answered_distinct
    )
    return {
        "distinct_sent": len(distinct),
        "duplicate_deliveries_sent": repeats,
        "responses": responses,
        "error_responses": error_responses,
        "processed_once": sum(1 for key in distinct if processed.get(key, 0) == 1),
        "processed_more_than_once": len(twice),
        "processed_but_never_sent": len(never_sent),
        "sent_but_not_processed": unprocessed,
        "cut_off_allowance": cut_off_allowance,
        "examples": (twice + never_sent)[:5],
        "passed": passed,
    }


def _number(value: float | None, spec: str, width: int) -> str:
    return format(value, spec).rjust(width) if value is not None else "-".rjust(width)


def table(*, hello: Mapping[str, float | None], endpoints: Sequence[tuple[Endpoint, Mapping]]) -> str:
    """The endpoints against hello world: req/s and its ratio decide; CPU per request explains."""
    header = (
        f"{'endpoint':<31}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'hello req/s':>12}{'ratio':>7}{'bar':>7}"
        f"  {'result':<19}{'CPU ms/req':>11}{'CPU ratio':>10}"
    )
    lines = [header, "-" * len(header)]
    lines.append(
        f"{'hello world (median of runs)':<31}{hello['rps']:>8.0f}{hello['p50_ms']:>9.2f}{hello['p99_ms']:>9.2f}"
        f"{'':>12}{'':>7}{'':>7}  {'':<19}{_number(hello.get('cpu_ms'), '.3f', 11)}"
    )
    for endpoint, row in endpoints:
        verdict = {True: "pass", False: "MISSED", None: "-"}[row["passed"]]
        bar = ">=" + format(row["bar"], "g") if row["bar"] is not None else "-"
        if row.get("floor_ratio") is not None:
            verdict += f" ({row['floor_ratio']:.2f}x floor)"
        lines.append(
            f"{endpoint.label:<31}{row['rps']:>8.0f}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}"
            f"{row['hello_rps_mean']:>12.0f}{row['ratio']:>7.2f}{bar:>7}  {verdict:<19}"
            f"{_number(row.get('cpu_ms_per_request'), '.3f', 11)}{_number(row.get('cpu_ratio'), '.2f', 10)}"
        )
    return "\n".join(lines)


# --- Running it -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, *, headers: Mapping[str, str] | None = None, data: str | None = None) -> tuple[int, dict, bytes]:
    body = data.encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=dict(headers or {}))  # noqa: S310 (our own gunicorn)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:  # 3xx, 4xx and 5xx land here
        return error.code, dict(error.headers), error.read()


def signed_headers(post: SignedPost) -> dict[str, str]:
    return {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": post.signature}


@dataclass(frozen=True)
class Server:
    command: list[str]
    pid: int


@contextmanager
def gunicorn(*, port: int, workers: int, env: Mapping[str, str], log: Path) -> Iterator[Server]:
    """A gunicorn serving bench.settings until the block ends (or fails)."""
    binary = Path(sys.executable).with_name("gunicorn")
    command = [
        str(binary if binary.exists() else shutil.which("gunicorn") or "gunicorn"), "config.wsgi:application",
        "--workers", str(workers), "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=dict(env), stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()[-3000:]}")
                try:
                    if fetch(f"http://127.0.0.1:{port}{HELLO_PATH}")[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not answer within 60 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
            yield Server(command=command, pid=process.pid)
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU a process has used so far (Linux), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_used(before: Mapping[int, float], after: Mapping[int, float]) -> float:
    """CPU seconds used between two snapshots; a process that appeared in between counts from zero."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


class CpuMeter:
    """CPU that the gunicorn workers and their PostgreSQL backends spend, per request.

    Other work on the machine changes req/s a lot and CPU per request little, so this says what a
    request costs even when the machine is not quiet. wrk's own CPU is not counted.
    """

    def __init__(self, master_pid: int):
        self.master_pid = master_pid

    def snapshot(self) -> dict[str, dict[int, float]]:
        from django.db import connection

        children = Path(f"/proc/{self.master_pid}/task/{self.master_pid}/children")
        workers = [int(pid) for pid in children.read_text().split()] if children.exists() else []
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            backends = [row[0] for row in cursor.fetchall()]
        return {
            kind: {pid: used for pid in pids if (used := cpu_seconds(pid)) is not None}
            for kind, pids in (("app", workers), ("db", backends))
        }

    @staticmethod
    def per_request(before: Mapping, after: Mapping, requests: int) -> dict[str, float]:
        used = {kind: cpu_used(before[kind], after[kind]) for kind in ("app", "db")}
        per = {kind: round(seconds * 1000 / max(requests, 1), 3) for kind, seconds in used.items()}
        return {**per, "total": round(per["app"] + per["db"], 3)}


@dataclass(frozen=True)
class Wrk:
    binary: str
    base_url: str
    threads: int
    connections: int
    duration: int

    def command(self, path: str, *, headers: Sequence[str] = (), requests_file: Path | None = None) -> list[str]:
        command = [self.binary, f"-t{self.threads}", f"-c{self.connections}", f"-d{self.duration}s", "--latency"]
        command += ["--timeout", "10s"]
        for header in headers:
            command += ["-H", header]
        if requests_file:
            command += ["-s", str(LUA_SCRIPT), self.base_url + path, "--", str(requests_file), str(self.threads)]
        else:
            command.append(self.base_url + path)
        return command

    def run(
        self,
        name: str,
        path: str,
        *,
        headers: Sequence[str] = (),
        requests_file: Path | None = None,
        meter: CpuMeter | None = None,
    ) -> dict:
        command = self.command(path, headers=headers, requests_file=requests_file)
        load_before = os.getloadavg()[0]
        before = meter.snapshot() if meter else None
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=self.duration + 120)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        shown = " ".join(shlex.quote(re.sub(r"Api-Key \S+", "Api-Key <bench key>", part)) for part in command)
        result = {"name": name, "command": shown, **parse_wrk(done.stdout)}
        if meter and before:
            result["cpu_ms_per_request"] = meter.per_request(before, meter.snapshot(), result["requests"])
        result["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        cpu, load = cpu_total(result), result["load_average"]
        print(
            f"  {name:<10} {result['rps']:>9.1f} req/s  p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms"
            f"  server CPU {_number(cpu, '.2f', 5)} ms/request  ({result['requests']} requests, "
            f"{result['error_responses']} errors, load {load[0]:.1f}-{load[1]:.1f})",
            file=sys.stderr,
        )
        return result


def populate(*, caregivers: int, messages: int, sid_prefix: str) -> dict:
    """A clinic, caregivers who consented to SMS, and `messages` SMS already handed to Twilio."""
    from django.utils import timezone
    from rest_framework_api_key.models import APIKey

    from caregiver.services import clinic_create
    from messaging.models import OutboundMessage
    from tests.factories import CareLinkFactory, ConsentRecordFactory

    clinic = clinic_create(
        name="Bench Clinic", slug="bench-clinic", time_zone="America/New_York", contact_phone="+12025550100",
        contact_email="care@bench-clinic.example", twilio_from_number=CLINIC_NUMBER,
    )  # fmt: skip
    people = []
    for phone in caregiver_phones(caregivers):
        link = CareLinkFactory(caregiver__clinic=clinic, caregiver__phone=phone)
        ConsentRecordFactory(caregiver=link.caregiver, channel="sms")
        people.append(link.caregiver)
    now = timezone.now()
    sent = OutboundMessage.objects.bulk_create(
        (
            OutboundMessage(
                caregiver=person, channel="sms", kind="tip", to=person.phone, body=f"Alongside: bench tip {n}",
                dedupe_key=f"bench:{n}", send_at=now, status=OutboundMessage.Status.SENT, sent_at=now, attempts=1,
                provider_id=message_sid(sid_prefix, n),
            )
            for n, person in ((n, people[n % len(people)]) for n in range(messages))
        ),
        batch_size=2000,
    )  # fmt: skip
    _, api_key = APIKey.objects.create_key(name="bench-http")
    return {
        "phones": [p.phone for p in people],
        "messages": [(m.pk, m.provider_id, m.to) for m in sent],
        "api_key": api_key,
    }


def inbound_processed(prefix: str) -> tuple[dict[str, int], dict]:
    """Rows per MessageSid among the texts the run sent, and what was done with them."""
    from django.db.models import Count

    from messaging.models import InboundMessage, OutboundMessage

    rows = InboundMessage.objects.filter(message_sid__startswith=f"SM{prefix}")
    counts = dict(rows.values_list("message_sid").annotate(n=Count("id")).values_list("message_sid", "n"))
    details = {
        "actions": dict(rows.values_list("action").annotate(n=Count("id")).values_list("action", "n")),
        "without_caregiver": rows.filter(caregiver__isnull=True).count(),
        # Every text gets a safe answer: the auto-reply, at most once per sender in the clinic's window.
        "replies_created": OutboundMessage.objects.filter(kind="reply").count(),
        "senders": rows.values("from_number").distinct().count(),
        "alerts_created": OutboundMessage.objects.filter(kind="alert").count(),
    }
    return counts, details


def status_processed(candidates: Sequence[int]) -> tuple[dict[str, int], dict]:
    """Which of the messages the run could target were moved to delivered (a status moves once)."""
    from django.db.models import Count

    from messaging.models import OutboundMessage

    rows = OutboundMessage.objects.filter(pk__in=candidates)
    delivered = rows.filter(status=OutboundMessage.Status.DELIVERED)
    counts = {str(pk): 1 for pk in delivered.values_list("pk", flat=True)}
    details = {
        "statuses": dict(rows.values_list("status").annotate(n=Count("id")).values_list("status", "n")),
        "delivered_without_delivered_at": delivered.filter(delivered_at__isnull=True).count(),
    }
    return counts, details


def settle(count: Callable[[], int], *, timeout: float = 10.0) -> None:
    """Wait until requests still in gunicorn when wrk stopped have finished (the count stops moving)."""
    deadline = time.monotonic() + timeout
    last = count()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = count()
        if now == last:
            return
        last = now


def check(ok: bool, what: str, failures: list[str]) -> None:
    print(f"  {'ok  ' if ok else 'FAIL'} {what}", file=sys.stderr)
    if not ok:
        failures.append(what)


@dataclass(frozen=True)
class Prepared:
    base_url: str
    port: int
    api_key: str
    count: int
    inbound_prefix: str
    candidates: list[int]
    files: dict[str, Path]
    warm_inbound: list[SignedPost]
    warm_status: list[SignedPost]
    settings: dict


def prepare(*, caregivers: int, count: int, warm: int = 4) -> Prepared:
    """The database, the people, the API key and the signed webhooks, all before gunicorn starts."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    tag = secrets.token_hex(3)
    print(f"Database {DATABASE}: migrate, load_content, a clinic and {caregivers} caregivers", file=sys.stderr)
    django_setup(
        bench_database(DATABASE),
        DJANGO_SETTINGS_MODULE="bench.settings",
        PUBLIC_BASE_URL=base_url,
        CACHE_KEY_PREFIX=f"alongside-bench-{tag}",
        CELERY_QUEUE=f"alongside-bench-{tag}",
    )
    from django.conf import settings
    from django.db import connections

    token = settings.TWILIO_AUTH_TOKEN
    data = populate(caregivers=caregivers, messages=count + warm, sid_prefix=f"{tag}b")
    texts = {
        name: inbound_posts(
            base_url=base_url, token=token, senders=data["phones"], to_number=CLINIC_NUMBER, count=n, prefix=prefix
        )
        for name, n, prefix in (("inbound", count, f"{tag}a"), ("warm", warm, f"{tag}c"))
    }
    messages = data["messages"]
    callbacks = status_posts(base_url=base_url, token=token, messages=messages[:count], from_number=CLINIC_NUMBER)
    files = {"inbound": WORK_DIR / "inbound.tsv", "status": WORK_DIR / "status.tsv"}
    for name, posts in (("inbound", texts["inbound"]), ("status", callbacks)):
        files[name].write_text("".join(post.line() + "\n" for post in posts))
    with connections["default"].cursor() as cursor:
        cursor.execute(STORED_TABLE_CREATE)
    connections.close_all()
    return Prepared(
        base_url=base_url,
        port=port,
        api_key=data["api_key"],
        count=count,
        inbound_prefix=f"{tag}a",
        candidates=[m[0] for m in messages[:count]],
        files=files,
        warm_inbound=texts["warm"],
        warm_status=status_posts(base_url=base_url, token=token, messages=messages[count:], from_number=CLINIC_NUMBER),
        settings={
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "API_KEY_THROTTLE_RATE": settings.API_KEY_THROTTLE_RATE,
            "CONN_MAX_AGE": settings.DATABASES["default"]["CONN_MAX_AGE"],
            "CONN_HEALTH_CHECKS": settings.DATABASES["default"]["CONN_HEALTH_CHECKS"],
            "CACHE": settings.CACHES["default"]["BACKEND"],
            "DEBUG": settings.DEBUG,
        },
    )


def precheck(prepared: Prepared, failures: list[str]) -> str:
    """Each endpoint answers as it should before it is timed. Returns the tip list's ETag."""
    base_url, key = prepared.base_url, {"Authorization": f"Api-Key {prepared.api_key}"}
    code, headers, body = fetch(base_url + TIPS_PATH, headers=key)
    page = json.loads(body) if code == 200 else {}
    shown, total = len(page.get("results", [])), page.get("count", 0)
    check(code == 200 and shown == min(50, total) > 0, f"tip list: {code}, {shown} of {total} tips", failures)
    etag = headers.get("ETag", "")
    code, _, body = fetch(base_url + TIPS_PATH, headers={**key, "If-None-Match": etag})
    check(code == 304 and not body, f"tip list with If-None-Match: {etag}: {code}, {len(body)} bytes", failures)
    text = prepared.warm_inbound[0]
    code, _, _ = fetch(base_url + text.path, data=text.body, headers={"Content-Type": "text/plain"})
    check(code == 403, f"an unsigned inbound SMS is refused: {code}", failures)
    for name, posts, expected in (
        ("inbound SMS", prepared.warm_inbound, 200),
        ("callbacks", prepared.warm_status, 204),
    ):
        codes = [fetch(base_url + p.path, data=p.body, headers=signed_headers(p))[0] for p in posts]
        check(codes == [expected] * len(posts), f"signed {name}: {codes}", failures)
    code, _, body = fetch(base_url + STORED_PATH)
    check(code == 200 and body == b"stored", f"the floor, one INSERT: {code} {body[:40]!r}", failures)
    return etag


def measure(wrk: Wrk, prepared: Prepared, etag: str, meter: CpuMeter) -> list[dict]:
    """Hello world, then each endpoint followed by hello world again."""
    key = f"Authorization: Api-Key {prepared.api_key}"
    # The workers import, connect and fill their caches before anything is timed.
    warm = Wrk(wrk.binary, wrk.base_url, wrk.threads, wrk.connections, 1)
    for path, headers in ((HELLO_PATH, []), (TIPS_PATH, [key]), (TIPS_PATH, [key, f"If-None-Match: {etag}"])):
        warm.run("warm-up", path, headers=headers)
    plan = {
        "tips_list": {"path": TIPS_PATH, "headers": [key]},
        "tips_304": {"path": TIPS_PATH, "headers": [key, f"If-None-Match: {etag}"]},
        "inbound": {"path": INBOUND_PATH, "requests_file": prepared.files["inbound"]},
        "status": {"path": STATUS_PATH, "requests_file": prepared.files["status"]},
        "stored": {"path": STORED_PATH},
    }
    print(f"Runs, {wrk.duration} s each:", file=sys.stderr)
    runs = [wrk.run("hello", HELLO_PATH, meter=meter)]
    for name, how in plan.items():
        time.sleep(0.5)  # so one run's last requests do not fall into the next
        runs.append(wrk.run(name, **how, meter=meter))
        time.sleep(0.5)
        runs.append(wrk.run("hello", HELLO_PATH, meter=meter))
    return runs


def exactly_once(prepared: Prepared, runs: Mapping[str, dict], *, connections: int) -> dict[str, dict]:
    """Every distinct webhook sent took effect once; repeats, if any, took no effect."""
    inbound_keys = [message_sid(prepared.inbound_prefix, n) for n in range(prepared.count)]
    status_keys = [str(pk) for pk in prepared.candidates]
    settle(lambda: len(inbound_processed(prepared.inbound_prefix)[0]) + len(status_processed(prepared.candidates)[0]))
    results = {}
    for name, keys, (processed, details) in (
        ("inbound", inbound_keys, inbound_processed(prepared.inbound_prefix)),
        ("status", status_keys, status_processed(prepared.candidates)),
    ):
        run = runs[name]
        sent, repeats = sent_by_threads(keys, run["threads"])
        result = once_check(
            sent=sent,
            repeats=repeats,
            processed=processed,
            responses=run["requests"],
            error_responses=run["error_responses"],
            cut_off_allowance=connections,
        )
        results[name] = {**result, **details}
    inbound, status = results["inbound"], results["status"]
    # The common path: every text from a known caregiver, kept for staff, no alert, and one
    # auto-reply per sender at most (the clinic's auto_reply_hours window).
    inbound["passed"] = (
        inbound["passed"]
        and set(inbound["actions"]) <= {"stored"}
        and inbound["without_caregiver"] == 0
        and inbound["alerts_created"] == 0
        and 0 < inbound["replies_created"] <= inbound["senders"]
    )
    status["passed"] = status["passed"] and status["delivered_without_delivered_at"] == 0
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections, every run (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads, every run (default 2)")
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help=f"gunicorn sync workers (default 2 x CPUs + 1 = {DEFAULT_WORKERS})",
    )
    parser.add_argument("--caregivers", type=int, default=200, help="caregivers texting in (default 200)")
    parser.add_argument(
        "--max-rate",
        type=int,
        default=3000,
        help="distinct webhooks generated per second of a run (default 3000); a faster run repeats them",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 s per run, 20 caregivers")
    parser.add_argument("--out", default="var/bench/http.json", help="JSON results (default var/bench/http.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.caregivers = 1, min(args.caregivers, 20)
    binary = shutil.which("wrk")
    if binary is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    (ROOT / "var" / "bench" / "static").mkdir(parents=True, exist_ok=True)

    prepared = prepare(caregivers=args.caregivers, count=max(100, args.duration * args.max_rate))
    wrk = Wrk(binary, prepared.base_url, args.threads, args.connections, args.duration)
    failures: list[str] = []
    print(f"gunicorn on {prepared.base_url}, {args.workers} sync workers, {os.cpu_count()} CPUs", file=sys.stderr)
    log = WORK_DIR / "gunicorn.log"
    with gunicorn(port=prepared.port, workers=args.workers, env=os.environ, log=log) as server:
        print("Before the runs:", file=sys.stderr)
        etag = precheck(prepared, failures)
        if failures:
            print("The endpoints do not answer as they should: nothing was measured.", file=sys.stderr)
            return 1
        runs = measure(wrk, prepared, etag, CpuMeter(server.pid))
        code = fetch(
            prepared.base_url + TIPS_PATH,
            headers={"Authorization": f"Api-Key {prepared.api_key}", "If-None-Match": etag},
        )[0]
        check(code == 304, f"after the runs, the same ETag still gets a 304 (not throttled): {code}", failures)

    print("Exactly once:", file=sys.stderr)
    by_name = {run["name"]: run for run in runs if run["name"] != "hello"}
    once = exactly_once(prepared, by_name, connections=args.connections)
    for name, result in once.items():
        check(result["passed"], f"{name}: {once_summary(result)}", failures)

    hellos = [run for run in runs if run["name"] == "hello"]
    rows = []
    for index, endpoint in enumerate(ENDPOINTS):
        run, neighbours = by_name[endpoint.key], hellos[index : index + 2]
        row = compare(
            rps=run["rps"],
            hello_rps=[h["rps"] for h in neighbours],
            bar=endpoint.bar,
            cpu_ms=cpu_total(run),
            hello_cpu_ms=[c for h in neighbours if (c := cpu_total(h)) is not None],
        )
        rows.append((endpoint, {"label": endpoint.label, "p50_ms": run["p50_ms"], "p99_ms": run["p99_ms"], **row}))
    floor_judge(rows)
    hello = {key: statistics.median(run[key] for run in hellos) for key in ("rps", "p50_ms", "p99_ms")}
    hello_cpu = [c for h in hellos if (c := cpu_total(h)) is not None]
    hello["cpu_ms"] = statistics.median(hello_cpu) if hello_cpu else None
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout
    result = {
        "benchmark": "http",
        "cpu_count": os.cpu_count(),
        "machine": machine(),
        "server": {"command": shlex.join(server.command), "settings": prepared.settings, "database": DATABASE},
        "wrk": {
            "version": version.splitlines()[0] if version else "",
            "threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
            "command": shlex.join(wrk.command("<path>")),
        },
        "api_key_throttle_rate": prepared.settings["API_KEY_THROTTLE_RATE"],
        "hello": {"runs": len(hellos), **hello},
        "endpoints": {endpoint.key: row for endpoint, row in rows},
        "exactly_once": once,
        "runs": runs,
        "correctness_failures": failures,
        "bars_missed": [endpoint.key for endpoint, row in rows if row["passed"] is False],
    }
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(
        f"\nHTTP on {os.cpu_count()} CPUs: gunicorn {args.workers} sync workers on PostgreSQL + Redis; "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s; "
        f"API key throttle {prepared.settings['API_KEY_THROTTLE_RATE']} (raised for the bench)"
    )
    print(table(hello=hello, endpoints=rows))
    print(
        "ratio = req/s over the mean of the hello-world runs just before and after; webhooks are judged on "
        "their ratio over the floor's (x floor); CPU = gunicorn workers and "
        "their PostgreSQL backends, per request (wrk not counted); CPU ratio = hello's CPU over the endpoint's."
    )
    for name, once_result in once.items():
        print(f"{name}: {once_summary(once_result)}: {'pass' if once_result['passed'] else 'FAIL'}")
        if once_result["duplicate_deliveries_sent"]:
            print(
                f"  ({name} ran out of distinct requests: its req/s includes "
                f"{once_result['duplicate_deliveries_sent']} duplicate deliveries, a cheaper path; raise --max-rate)"
            )
    if result["bars_missed"]:
        print(f"Bars missed (reported, not a failure): {', '.join(result['bars_missed'])}")
    if failures:
        print(f"Correctness FAILED: {failures}")
    if args.out:
        print(f"Results in {args.out}")
    return 1 if failures else 0


def cpu_total(run: Mapping) -> float | None:
    return run.get("cpu_ms_per_request", {}).get("total")


def once_summary(result: Mapping) -> str:
    return (
        f"{result['distinct_sent']} distinct sent, {result['processed_once']} processed exactly once, "
        f"{result['processed_more_than_once']} more than once, {result['processed_but_never_sent']} never sent, "
        f"{result['sent_but_not_processed']} cut off at the end, "
        f"{result['duplicate_deliveries_sent']} duplicate deliveries, {result['error_responses']} error responses"
    )


if __name__ == "__main__":
    raise SystemExit(main())
