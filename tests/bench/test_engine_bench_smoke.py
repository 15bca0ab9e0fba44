"""Small runs of the engine benchmarks, so the scripts cannot rot. Speed is not asserted here
(that is `make bench`'s job, on a quiet machine); correctness and the report's shape are."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def run(script: str, *args: str, tmp_path: Path) -> dict:
    out = tmp_path / "result.json"
    completed = subprocess.run(
        [sys.executable, f"bench/{script}", *args, "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(out.read_text())


def test_planner_bench_reports_both_ticks_and_uses_the_due_index(tmp_path):
    result = run(
        "planner_bench.py", "--small", "300", "--large", "600", "--due", "20", "--caregivers", "5", "--repeat", "1",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert result["sizes"]["large"]["stored_rows"] > result["sizes"]["small"]["stored_rows"]
    assert result["dispatch_tick_ratio"] > 0
    assert result["plan_tick_ratio"] > 0
    assert "outbox_due" in result["sizes"]["large"]["plans"]["due_claim"]


def test_dispatch_bench_sends_every_message_once_through_celery_workers(tmp_path):
    result = run("dispatch_bench.py", "--messages", "60", "--threads", "4", tmp_path=tmp_path)
    assert result["duplicates"] == 0
    assert result["lost"] == 0
    assert result["statuses"] == {"sent": 60}
    assert result["raw_messages_per_s"] > 0
