"""A small run of the memory benchmark, so the script cannot rot. Memory figures are not asserted
here (that is `make bench`'s job, on a quiet machine); what each design did, and the report's shape, are."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("memory") / "result.json"
    completed = subprocess.run(
        [sys.executable, "bench/memory_bench.py", "--small", "20", "--large", "200", "--ticks", "2", "--hazard", "10",
         "--hazard-wait", "5", "--redis-db", "8", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(out.read_text())


def test_our_worker_runs_the_dispatcher_and_sends_nothing_a_day_early(result):
    for step, (label, count) in enumerate((("small", 20), ("large", 200)), start=1):
        run = result["ours"][label]
        # One worker for both sizes: its task counts add up.
        assert run["tasks_run"]["messaging.tasks.dispatch_task"] == step * result["settings"]["ticks"]
        assert run["sent"] == 0
        assert run["statuses"] == {"scheduled": count}


def test_the_naive_worker_holds_every_eta_task_and_redis_keeps_a_copy(result):
    for label, count in (("small", 20), ("large", 200)):
        run = result["naive"][label]
        assert run["held_in_worker"] == count
        assert run["unacked_in_redis"] == count
        assert run["sent"] == 0
        assert run["publish_s"] > 0


def test_the_report_gives_both_designs_ratios_and_absolute_figures(result):
    assert result["machine"]["cpus"] >= 1
    for design in ("ours", "naive"):
        assert result[design]["worker_rss_ratio"] > 0
        assert result[design]["redis_key_bytes_ratio"] > 0
        for label in ("small", "large"):
            assert result[design][label]["worker"]["processes"] == 3  # the parent and two pool children
            assert result[design][label]["worker"]["rss_mb"] > 0
    assert result["bar_ours_worker_rss"] in {"pass", "MISS"}


def test_a_short_visibility_timeout_makes_the_naive_worker_hold_duplicates(result):
    hazard = result["naive_hazard"]
    assert hazard["distinct_tasks_held"] == hazard["tasks_published"] == 10
    assert hazard["duplicates"] > 0
