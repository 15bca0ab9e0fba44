"""A small run of bench/import_bench.py, so the script cannot rot. Speed is not asserted here; the
number of queries a preview makes is, since it does not depend on the machine: a preview that
queried per row again would take minutes for 2,000 rows."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_import_bench_previews_both_files_with_a_few_queries_whatever_their_length(tmp_path):
    # A database of its own, named after the one this run uses, so parallel runs do not share it.
    database = os.environ["DATABASE_URL"].rsplit("/", 1)[1] + "_import_bench"
    results = []
    for rows in ("20", "60"):
        out = tmp_path / f"{rows}.json"
        completed = subprocess.run(
            [sys.executable, "bench/import_bench.py", "--rows", rows, "--repeat", "1", "--out", str(out),
             "--database-url", f"postgres://postgres@127.0.0.1:5432/{database}"],
            cwd=ROOT, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stderr[-3000:]
        results.append(json.loads(out.read_text()))
    small, large = results
    for kind in ("families_preview", "appointments_preview"):
        assert large[kind]["queries"] == small[kind]["queries"] <= 15
