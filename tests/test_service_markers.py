"""A test that needs PostgreSQL or Redis must fail in CI when the service is missing."""

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[1]

NEEDS_REDIS = """
import pytest

@pytest.mark.redis
def test_uses_redis():
    pass
"""


@pytest.fixture
def run_with(pytester, monkeypatch):
    def run(**env):
        monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        pytester.makepyfile(NEEDS_REDIS)
        pytester.makeini("[pytest]\nmarkers =\n    redis: x\n    postgres: x\n")
        return pytester.runpytest_subprocess("-p", "tests.service_markers", "-p", "no:django", "-p", "no:cacheprovider")

    return run


def test_missing_redis_fails_in_ci(run_with):
    result = run_with(CI="true", REDIS_URL="redis://127.0.0.1:9/0")
    result.assert_outcomes(errors=1)  # failed in setup, before the test body runs
    assert result.ret != 0
    assert "a missing service is a failure" in result.stdout.str()


def test_missing_redis_skips_with_a_reason_outside_ci(run_with):
    result = run_with(CI="", REDIS_URL="redis://127.0.0.1:9/0")
    result.assert_outcomes(skipped=1)


@pytest.mark.redis
def test_present_redis_runs_the_test(run_with):
    run_with(CI="true").assert_outcomes(passed=1)
