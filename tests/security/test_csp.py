"""The Content-Security-Policy header: strict on every page, relaxed only where a page needs it.

tests/browser/test_content_security_policy.py shows the pages still work under it in Chromium;
these read the header itself, and the templates, so a loosened policy or a new inline script
fails here without a browser.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.template.loaders.app_directories import get_app_template_dirs

from tests import factories

ROOT = Path(__file__).resolve().parents[2]

STRICT = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}


def policy(response) -> dict[str, set[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: set(sources) for name, *sources in directives}


@pytest.fixture
def clinic(db):
    return factories.ClinicFactory(enrollment_code="RIVER234")


@pytest.mark.parametrize("path", ["/", "/join/", "/join/RIVER234/", "/staff/login/"])
def test_public_pages_have_the_strict_policy(client, clinic, path):
    response = client.get(path)
    assert response.status_code == 200
    assert policy(response) == STRICT


@pytest.mark.parametrize("path", ["/staff/", "/staff/import/", "/staff/alerts/", "/admin/"])
def test_staff_pages_and_the_admin_have_the_strict_policy(client, clinic, path):
    user = factories.UserFactory(is_staff=True, is_superuser=True)
    factories.StaffMembershipFactory(user=user, clinic=clinic)
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    assert policy(response) == STRICT


def test_an_inline_script_or_handler_would_be_refused(client, clinic):
    """Neither 'unsafe-inline' nor a nonce nor a hash: an injected <script> or onclick= never runs."""
    scripts = policy(client.get("/join/RIVER234/"))["script-src"]
    assert "'unsafe-inline'" not in scripts
    assert "'unsafe-eval'" not in scripts
    assert not any(source.startswith(("'nonce-", "'sha")) for source in scripts)
    assert "'unsafe-hashes'" not in scripts


def test_only_the_api_docs_page_allows_more_and_only_its_own_style_block(client, db):
    docs = policy(client.get("/api/docs/"))
    assert docs["script-src"] == {"'self'"}
    extra = docs["style-src"] - {"'self'"}
    assert len(extra) == 1
    assert next(iter(extra)).startswith("'sha256-")
    assert {name: sources for name, sources in docs.items() if name != "style-src"} == {
        name: sources for name, sources in STRICT.items() if name != "style-src"
    }


def served_templates() -> list[Path]:
    """Every page template of ours; the email body is mail, not a page (mail clients want inline style)."""
    dirs = [ROOT / "config" / "templates"] + [Path(d) for d in get_app_template_dirs("templates")]
    ours = [d for d in dirs if ROOT in d.parents and ".venv" not in d.parts]
    return [path for d in ours for path in d.rglob("*.html") if path.name != "email.html"]


INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE)


def test_no_page_template_has_inline_script_or_style():
    templates = served_templates()
    assert len(templates) > 20, "found the templates"
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for path in templates
        for match in INLINE.finditer(path.read_text())
    ]
    assert found == []


def test_the_csrf_failure_page_is_ours_and_needs_no_inline_style(client):
    """Django's own page styles itself inline, which the policy blocks: ours uses the site's stylesheet."""
    from django.test import Client

    page = Client(enforce_csrf_checks=True).post("/join/", {"code": "ABCDEFGH"})
    assert page.status_code == 403
    body = page.content.decode()
    assert "Please try that again" in body
    assert "<style" not in body
    assert "style=" not in body
