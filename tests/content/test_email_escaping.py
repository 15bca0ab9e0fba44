"""User-supplied text in our emails is shown as written, never rendered as Markdown or HTML.

The pentest named a sign-up `[Confirm-here](https://evil.example/c)` and got a clickable link in
our own confirmation email. Names refuse brackets now, but the rule is the renderer's: whatever a
clinic or a family typed, only the library's own Markdown and our own links become HTML.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from content.services import message_render

CONFIRM_URL = "https://alongside.example.org/email/confirm/abc/"
TYPED = [
    "[Confirm here](https://evil.example/c)",
    '<a href="https://evil.example/c">Confirm</a>',
    "![pixel](https://evil.example/p.png)",
    "https://evil.example/c",
    "**Urgent** _now_",
    "Lakeside\n\n# Reset your password",
]


@pytest.mark.parametrize("typed", TYPED)
def test_a_clinic_or_caregiver_name_is_not_a_link_in_the_confirmation_email(content, typed):
    rendered = message_render(
        key="email-confirmation", context={"caregiver": typed, "clinic": typed, "confirm_url": CONFIRM_URL}
    )
    html = rendered.email_html
    assert '<a href="https://evil.example' not in html
    assert "<img" not in html
    assert "<strong>" not in html
    assert "<h1>" not in html
    # The one link is ours, and the text version says what was typed.
    assert f'href="{CONFIRM_URL}"' in html
    assert typed.split("\n")[0] in rendered.email_text


def test_the_librarys_own_markdown_still_renders(content):
    rendered = message_render(
        key="email-confirmation", context={"caregiver": "Sam", "clinic": "Lakeside", "confirm_url": CONFIRM_URL}
    )
    assert f'<a href="{CONFIRM_URL}"' in rendered.email_html
    assert "Hi Sam," in rendered.email_html


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.text(alphabet=st.sampled_from(list("[]()<>!*_#`\\/:.ahtps =\"'x")), max_size=40))
def test_nothing_typed_makes_a_link_tag_or_emphasis(content, typed):
    html = message_render(
        key="email-confirmation", context={"caregiver": typed, "clinic": typed, "confirm_url": CONFIRM_URL}
    ).email_html
    assert html.count("<a ") == 1
    assert "<img" not in html
    assert "<em>" not in html
    assert "<strong>" not in html
    assert "<code>" not in html
