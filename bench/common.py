"""What the benchmark scripts share: a database of their own, Django set up against it, timing,
and the machine they ran on. Benchmarks are scripts, not tests; tests/bench runs small versions.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# The table bench.urls' /bench/stored/ writes to; http_bench.py makes it.
STORED_TABLE = "bench_stored"
STORED_TABLE_CREATE = f"CREATE TABLE {STORED_TABLE} (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())"


def bench_database(name: str, *, fresh: bool = True) -> str:
    """A PostgreSQL database for one benchmark, migrated. Returns its URL."""
    url = f"{PG}/{name}"
    if fresh:
        for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
            subprocess.run(["psql", f"{PG}/postgres", "-qc", sql], check=True, capture_output=True)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "LOG_LEVEL": "WARNING",
        }
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [sys.executable, "manage.py", "load_content"], cwd=ROOT, env=env, check=True, capture_output=True
        )
    return url


def django_setup(database_url: str, **env: str) -> None:
    os.environ.update(
        {"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "config.settings.test", "LOG_LEVEL": "WARNING",
         "REDIS_URL": REDIS_URL, **env}
    )  # fmt: skip
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def timed(fn: Callable[[], object], *, repeat: int = 5, reset: Callable[[], object] | None = None) -> dict:
    """Median and spread of `repeat` runs of fn (reset() between runs, not timed)."""
    times = []
    for _ in range(repeat):
        if reset:
            reset()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "runs": repeat}


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def write(out: str | None, result: dict) -> None:
    text = json.dumps(result, indent=2, default=str)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")
    print(text)
