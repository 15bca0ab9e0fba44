"""The tip API answers repeat requests from memory, and never with words that have changed."""

from datetime import timedelta

import pytest
import time_machine
import yaml
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from content import api_cache
from content.api_cache import RequestCounts
from content.models import Tip
from content.services import library_load, tip_update

pytestmark = pytest.mark.usefixtures("library")
LIST = "/api/v1/tips/?category=what-to-say"


def key_row(api_key: str) -> APIKey:
    return APIKey.objects.get(prefix=api_key.split(".")[0])


# --- Pages kept per content version ------------------------------------------------------------


@pytest.mark.redis  # pages are kept only when the content version is shared (in Redis)
def test_a_repeat_request_is_answered_from_memory(api, django_assert_num_queries):
    first = api.get(LIST)
    with django_assert_num_queries(0):
        again = api.get(LIST)
    assert again.status_code == 200
    assert again.content == first.content
    headers = ("Content-Type", "ETag", "Last-Modified", "Cache-Control", "Vary", "Allow")
    assert [again[h] for h in headers] == [first[h] for h in headers]
    with django_assert_num_queries(0):
        assert api.get(LIST, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_loading_changed_files_changes_the_etag_at_once(api, library_copy):
    library_load(root=library_copy)
    first = api.get(LIST)
    path = library_copy / "en" / "what-to-say.yaml"
    data = yaml.safe_load(path.read_text())
    data["tips"][0]["sms"] = "A new, shorter text for this tip."
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))

    library_load(root=library_copy)

    changed = api.get(LIST, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]
    assert "A new, shorter text for this tip." in changed.content.decode()


def test_loading_unchanged_files_keeps_the_etag(api, library_copy):
    library_load(root=library_copy)
    first = api.get(LIST)
    library_load(root=library_copy)
    assert api.get(LIST, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_an_edit_in_the_admin_changes_the_etag_at_once(api, client):
    tip = Tip.objects.filter(category__slug="what-to-say").first()
    first = api.get(LIST)
    operator = get_user_model().objects.create_superuser(username="op", password="a-long-test-password")
    client.force_login(operator)

    response = client.post(
        f"/admin/content/tip/{tip.pk}/change/",
        {
            "category": tip.category_id, "title": "A title edited in the admin", "sms_body": tip.sms_body,
            "email_markdown": tip.email_markdown, "tags": "[]", "discreet": "on", "active": "on",
        },
    )  # fmt: skip

    assert response.status_code == 302
    changed = api.get(LIST, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert "A title edited in the admin" in changed.content.decode()


def test_a_tip_retired_after_it_was_kept_is_gone(api):
    tip = Tip.objects.filter(language="en").first()
    assert api.get(f"/api/v1/tips/{tip.slug}/").status_code == 200
    tip_update(tip=tip, active=False)
    assert api.get(f"/api/v1/tips/{tip.slug}/").status_code == 410


def test_a_client_that_asks_for_something_other_than_json_is_still_told_no(api):
    api.get(LIST)
    assert api.get(LIST, HTTP_ACCEPT="text/html").status_code == 406


def test_pages_are_kept_per_host_since_their_links_carry_it(api):
    api.get(LIST)
    other = api.get(LIST, HTTP_HOST="localhost")
    assert "http://localhost/api/v1/tips/" in other.content.decode()


# --- Keys remembered for a few seconds -----------------------------------------------------------


def test_a_key_revoked_in_the_admin_is_refused_at_once(api, api_key):
    assert api.get(LIST).status_code == 200
    row = key_row(api_key)
    row.revoked = True
    row.save()
    response = api.get(LIST)
    assert response.status_code == 403
    assert "revoked" in response.json()["detail"]


def test_a_key_revoked_by_another_process_is_refused_within_seconds(api, api_key, monkeypatch):
    assert api.get(LIST).status_code == 200
    APIKey.objects.filter(pk=key_row(api_key).pk).update(revoked=True)  # no signal here, as in another process
    later = api_cache.time.monotonic() + api_cache.KEY_SECONDS + 0.1
    monkeypatch.setattr(api_cache.time, "monotonic", lambda: later)
    assert api.get(LIST).status_code == 403


def test_a_remembered_key_is_refused_once_it_expires(api, api_key):
    row = key_row(api_key)
    row.expiry_date = timezone.now() + timedelta(hours=1)
    row.save()
    assert api.get(LIST).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        response = api.get(LIST)
    assert response.status_code == 403
    assert "expired" in response.json()["detail"]


def test_a_wrong_secret_with_a_real_keys_prefix_is_refused(api, api_key):
    assert api.get(LIST).status_code == 200
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.split('.')[0]}.not-the-secret")
    assert forged.get(LIST).status_code == 401


# --- The rate, counted a few requests at a time --------------------------------------------------


def test_processes_sharing_a_key_never_exceed_its_rate_together():
    first, second = RequestCounts(), RequestCounts()  # two processes' memories, one shared count
    allowed = 0
    with time_machine.travel("2026-11-22 10:00:05", tick=False):
        for _ in range(700):
            allowed += first.take("key-a", limit=1000, seconds=60)
            allowed += second.take("key-a", limit=1000, seconds=60)
        assert allowed == 1000
        assert not first.take("key-a", limit=1000, seconds=60)
    with time_machine.travel("2026-11-22 10:01:05", tick=False):
        assert first.take("key-a", limit=1000, seconds=60)


def test_throttled_requests_still_say_when_to_retry_after_pages_were_kept(api, settings):
    settings.API_KEY_THROTTLE_RATE = "2/min"
    assert [api.get(LIST).status_code for _ in range(2)] == [200, 200]
    throttled = api.get(LIST)
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
