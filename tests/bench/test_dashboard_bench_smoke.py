"""A small run of bench/dashboard_bench.py, so the script cannot rot. Speed is not asserted here; the
number of queries the page makes is, since it does not depend on the machine: the same for a clinic
ten times the size, and for two years as for twelve weeks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_dashboard_bench_counts_the_same_few_queries_for_a_clinic_ten_times_the_size(tmp_path):
    # A database of its own, named after the one this run uses, so parallel runs do not share it.
    database = os.environ["DATABASE_URL"].rsplit("/", 1)[1] + "_dashboard_bench"
    out = tmp_path / "dashboard.json"
    completed = subprocess.run(
        [sys.executable, "bench/dashboard_bench.py", "--small", "200", "--large", "2000", "--repeat", "1",
         "--out", str(out), "--database-url", f"postgres://postgres@127.0.0.1:5432/{database}"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(out.read_text())
    queries = {result[key]["queries"] for key in ("small_12_weeks", "large_12_weeks", "large_104_weeks")}
    assert len(queries) == 1
    assert queries.pop() <= 20
    assert {plan["table"] for plan in result["explain_large_12_weeks"]} >= {"messaging_outboundmessage"}
