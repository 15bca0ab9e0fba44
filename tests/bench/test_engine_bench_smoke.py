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


def test_planner_bench_reports_the_caregiver_and_stored_row_ratios_and_the_indexes_answer(tmp_path):
    result = run(
        "planner_bench.py", "--few", "20", "--many", "60", "--changed", "10", "--small", "300", "--large", "600",
        "--due", "20", "--caregivers", "5", "--repeat", "1",
        tmp_path=tmp_path,
    )  # fmt: skip
    few, many = result["caregivers"]["few"], result["caregivers"]["many"]
    assert (few["caregivers"], many["caregivers"]) == (20, 60)
    assert many["appointments"] == 60 * 11
    assert many["outbox_rows"] > few["outbox_rows"] > 0
    assert result["plan_tick_ratio_caregivers"] > 0
    assert result["first_plan"]["caregivers_per_s"] > 0
    # 60 caregivers fit in a page, so PostgreSQL rightly scans; at 100,000 the report shows the indexes.
    assert "caregiver_caregiver" in many["plans"]["dirty"]
    assert "LockRows" in many["plans"]["short_of_horizon"]
    assert result["sizes"]["large"]["stored_rows"] > result["sizes"]["small"]["stored_rows"]
    assert result["dispatch_tick_ratio"] > 0
    assert result["plan_tick_ratio"] > 0
    # At 600 rows PostgreSQL may take either index on send_at (the partial one or the dashboard's),
    # as its statistics fall: both find the due rows by index. A sequential scan would be the bug.
    due_claim = result["sizes"]["large"]["plans"]["due_claim"]
    assert "outbox_due" in due_claim or "outbox_send_at" in due_claim, due_claim


def test_dispatch_bench_sends_every_message_once_through_celery_workers(tmp_path):
    result = run("dispatch_bench.py", "--messages", "60", "--threads", "4", tmp_path=tmp_path)
    assert result["duplicates"] == 0
    assert result["lost"] == 0
    assert result["statuses"] == {"sent": 60}
    assert result["raw_messages_per_s"] > 0
