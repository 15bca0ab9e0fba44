"""docker-compose.yml cannot run here (no Docker engine), so we check it says what it should."""

import os
import re
import subprocess
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_every_service_with_a_health_check(compose):
    assert set(compose["services"]) == {"db", "redis", "web", "worker", "beat"}
    for name, service in compose["services"].items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_compose_app_services_wait_for_healthy_db_and_redis_and_build_the_dockerfile(compose):
    for name in ("web", "worker", "beat"):
        service = compose["services"][name]
        assert service["build"] == "."
        assert service["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")
    assert (ROOT / "Dockerfile").is_file()


def test_compose_commands_point_at_modules_that_exist(compose):
    services = compose["services"]
    assert "config.wsgi:application" in services["web"]["command"]
    assert (ROOT / "config" / "wsgi.py").is_file()
    for name, role in (("worker", "worker"), ("beat", "beat")):
        command = services[name]["command"]
        assert command[:3] == ["celery", "-A", "config"]
        assert command[3] == role
    assert (ROOT / "config" / "celery.py").is_file()


def test_env_example_lists_every_variable_the_settings_read():
    read = set()
    for path in (ROOT / "config" / "settings").glob("*.py"):
        read |= set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', path.read_text()))
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "found the settings' variables"
    assert read - listed == set()


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_django_system_checks_pass():
    call_command("check", fail_level="WARNING")


def _make_dry_run(*args: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_BASE_URL", "HOST", "PORT")}
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), *args], env={**environ, **env}, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_make_run_points_links_at_the_address_it_serves():
    commands = _make_dry_run("run", "HOST=0.0.0.0", "PORT=9000")
    assert 'PUBLIC_BASE_URL="http://0.0.0.0:9000"' in commands
    assert "seed_demo --base-url http://0.0.0.0:9000" in commands


def test_make_run_keeps_a_public_base_url_that_is_set():
    commands = _make_dry_run("run", PUBLIC_BASE_URL="https://demo.example.org")
    assert 'PUBLIC_BASE_URL="https://demo.example.org"' in commands
    assert "seed_demo --base-url https://demo.example.org" in commands


def test_make_test_does_not_hand_the_tests_a_public_base_url():
    """Found by CI: the address `make run` serves, exported to every recipe, reached the tests,
    which then read links and the production settings' required variables differently."""
    commands = _make_dry_run("test")
    assert "PUBLIC_BASE_URL" not in commands
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "--eval", "print-env: ; @echo $${PUBLIC_BASE_URL-unset}", "print-env"],
        env={k: v for k, v in os.environ.items() if k != "PUBLIC_BASE_URL"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "unset"


# --- Requirements: what the production image installs, and what only developers and CI do ---

TEST_AND_TOOLING = {
    "pytest", "pytest-django", "playwright", "ruff", "bandit", "hypothesis", "schemathesis", "factory-boy",
    "time-machine", "aiosmtpd", "pip-audit",
}  # fmt: skip
REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]+\])?(?P<spec>\S*)$")


def requirement_lines(name: str) -> list[str]:
    """The file's requirement lines, without comments, blank lines or `-r` includes."""
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / name).read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def package(line: str) -> str:
    return re.sub(r"[-_.]+", "-", REQUIREMENT.match(line)["name"]).lower()


def test_the_runtime_requirements_carry_no_test_or_tooling_package():
    runtime = {package(line) for line in requirement_lines("requirements.txt")}
    assert {"django", "django-csp", "celery", "gunicorn"} <= runtime, "read the runtime pins"
    assert runtime & TEST_AND_TOOLING == set()
    dev = {package(line) for line in requirement_lines("requirements-dev.txt")}
    assert dev >= TEST_AND_TOOLING


def test_the_dev_requirements_start_from_the_runtime_ones():
    lines = [line for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if not line.startswith("#")]
    assert lines[0] == "-r requirements.txt"


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-dev.txt", "requirements-model.txt"])
def test_every_requirement_is_pinned_exactly(name):
    lines = requirement_lines(name)
    assert lines
    loose = [line for line in lines if not re.fullmatch(r"==[0-9][0-9A-Za-z.+!-]*", REQUIREMENT.match(line)["spec"])]
    assert loose == []


@pytest.mark.parametrize("changed", ["requirements.txt", "requirements-dev.txt", "requirements-model.txt"])
def test_make_install_installs_the_dev_requirements_again_when_a_requirements_file_changes(changed, tmp_path):
    # A venv installed just now: nothing to do until make is told a file changed (-W).
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").touch()
    (tmp_path / ".installed").touch()
    assert "pip install" not in _make_dry_run("install", f"VENV={tmp_path}")
    commands = _make_dry_run("-W", changed, "install", f"VENV={tmp_path}")
    assert "pip install --quiet -r requirements-dev.txt" in commands


def test_the_production_image_installs_only_the_runtime_requirements():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.txt" in dockerfile
    assert "requirements-dev" not in re.sub(r"#.*", "", dockerfile)
