"""config/keep-running: what `make run` starts its worker and beat under."""

import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_process_that_exits_is_started_again_and_sigterm_stops_both(tmp_path):
    runs = tmp_path / "runs"
    supervisor = subprocess.Popen(
        ["sh", str(ROOT / "config" / "keep-running"), "sh", "-c", f"echo run >> {runs}; exit 3"],
        env={"PATH": "/usr/bin:/bin", "KEEP_RUNNING_DELAY": "0.2"},
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not runs.exists() or len(runs.read_text().split()) < 3):
        time.sleep(0.1)
    assert len(runs.read_text().split()) >= 3  # crashed and was started again, twice at least
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=10) == 0
    assert "exited with status 3; starting it again" in supervisor.stderr.read()


def test_sigterm_reaches_a_long_running_command(tmp_path):
    marker = tmp_path / "stopped"
    script = f"trap 'echo stopped > {marker}; exit 0' TERM; while :; do sleep 0.1; done"
    supervisor = subprocess.Popen(["sh", str(ROOT / "config" / "keep-running"), "sh", "-c", script])
    time.sleep(0.5)
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=10) == 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not marker.exists():
        time.sleep(0.1)
    assert marker.read_text().strip() == "stopped"
