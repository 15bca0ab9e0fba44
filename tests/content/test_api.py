"""The tip API as a clinic website or patient app uses it."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from content.models import Tip
from content.services import tip_update

pytestmark = pytest.mark.usefixtures("library")


def all_slugs(api, **params):
    slugs, url = [], "/api/v1/tips/"
    response = api.get(url, {"page_size": 7, **params})
    while True:
        assert response.status_code == 200
        slugs += [t["slug"] for t in response.json()["results"]]
        if not response.json()["next"]:
            return slugs
        response = api.get(response.json()["next"])


# --- Listing, filters, search, pagination -----------------------------------------------------


def test_lists_active_tips_with_everything_a_website_needs(api):
    body = api.get("/api/v1/tips/").json()
    assert body["count"] == Tip.objects.filter(active=True, language="en").count()  # English unless asked
    assert len(body["results"]) == 20
    tip = body["results"][0]
    assert set(tip) >= {"slug", "url", "category", "title", "short_text", "body_markdown", "body_html", "tags"}
    assert tip["url"] == f"http://testserver/api/v1/tips/{tip['slug']}/"
    assert tip["body_html"].startswith("<p>")


def test_paging_through_returns_every_tip_once_in_a_stable_order(api):
    first, second = all_slugs(api), all_slugs(api)
    assert first == second
    assert sorted(first) == sorted(Tip.objects.filter(active=True, language="en").values_list("slug", flat=True))


def test_retired_tips_are_not_listed(api):
    tip = Tip.objects.filter(language="en").first()
    tip_update(tip=tip, active=False)
    assert tip.slug not in all_slugs(api)


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"category": "warning-signs"}, lambda t: t["category"] == "warning-signs"),
        ({"tag": "ride"}, lambda t: "ride" in t["tags"]),
        ({"language": "en"}, lambda t: t["language"] == "en"),
        ({"category": "appointment-day", "tag": "ride"}, lambda t: t["category"] == "appointment-day"),
    ],
)
def test_filters_return_only_matching_tips(api, params, check):
    results = api.get("/api/v1/tips/", {**params, "page_size": 100}).json()["results"]
    assert results
    assert all(check(t) for t in results)


def test_a_tag_filter_matches_whole_tags_only(api):
    assert api.get("/api/v1/tips/", {"tag": "rid"}).status_code == 400


def test_updated_since_keeps_recent_changes(api):
    tip = Tip.objects.get(slug=all_slugs(api)[3], language="en")
    Tip.objects.exclude(pk=tip.pk).update(updated_at=timezone.now() - timedelta(days=30))
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d")
    assert [t["slug"] for t in api.get("/api/v1/tips/", {"updated_since": since}).json()["results"]] == [tip.slug]
    assert api.get("/api/v1/tips/", {"updated_since": "2099-01-01T00:00:00Z"}).json()["count"] == 0


def test_search_finds_tips_by_their_words(api):
    results = api.get("/api/v1/tips/", {"search": "ride home", "page_size": 100}).json()["results"]
    assert results
    for tip in results:
        text = (tip["title"] + tip["short_text"] + tip["body_markdown"]).lower()
        assert "ride" in text
        assert "home" in text
    assert api.get("/api/v1/tips/", {"search": "xylophone"}).json()["count"] == 0


@pytest.mark.parametrize(
    ("params", "parameter", "says"),
    [
        ({"category": "recipes"}, "category", "“recipes” is not a category. Use one of: what-to-say"),
        ({"tag": "nonsense"}, "tag", "“nonsense” is not a tag"),
        ({"language": "fr"}, "language", "“fr” is not a language we have. Use one of: en"),
        ({"updated_since": "yesterday"}, "updated_since", "not an ISO 8601 date"),
        ({"updated_since": "2026-13-45"}, "updated_since", "not an ISO 8601 date"),
        ({"page_size": 101}, "page_size", "less than or equal to 100"),
        ({"page_size": 0}, "page_size", "greater than or equal to 1"),
        ({"page": "two"}, "page", "valid integer"),
        ({"search": "x" * 201}, "search", "no more than 200 characters"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(api, params, parameter, says):
    response = api.get("/api/v1/tips/", params)
    assert response.status_code == 400
    assert response.json()["parameter"] == parameter
    assert says in response.json()["detail"]


def test_a_page_past_the_end_is_a_404_saying_how_many_there_are(api):
    response = api.get("/api/v1/tips/", {"page": 99, "page_size": 50})
    assert response.status_code == 404
    assert response.json()["detail"] == "Page 99 does not exist: there are 2 pages of 50."


def test_the_largest_page_is_100(api):
    body = api.get("/api/v1/tips/", {"page_size": 100}).json()
    assert len(body["results"]) == min(100, body["count"])


@pytest.mark.parametrize("page_size", [1, 100])
def test_a_list_page_costs_at_most_three_queries(api, page_size, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = api.get("/api/v1/tips/", {"page_size": page_size, "category": "what-to-say", "tag": "phrases"})
    assert response.status_code == 200


# --- Detail and categories ------------------------------------------------------------------------


def test_one_tip_by_slug(api):
    slug = Tip.objects.first().slug
    response = api.get(f"/api/v1/tips/{slug}/")
    assert response.status_code == 200
    assert response.json()["slug"] == slug


def test_an_unknown_slug_is_a_404_and_a_retired_one_is_gone(api):
    assert api.get("/api/v1/tips/no-such-tip/").json() == {"detail": "No tip has the slug “no-such-tip” in “en”."}
    tip = Tip.objects.filter(language="en").first()
    tip_update(tip=tip, active=False)
    assert api.get(f"/api/v1/tips/{tip.slug}/").status_code == 410
    assert api.get(f"/api/v1/tips/{tip.slug}/?language=es").status_code == 200  # retired in English only


def test_categories_come_with_counts(api):
    categories = api.get("/api/v1/categories/").json()
    assert [c["slug"] for c in categories][:2] == ["what-to-say", "what-not-to-say"]
    assert sum(c["tip_count"] for c in categories) == Tip.objects.filter(active=True).count()
    assert api.get("/api/v1/categories/", {"language": "xx"}).status_code == 400


def test_unknown_api_paths_answer_json(api):
    response = api.get("/api/v1/recipes/")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("There is no API endpoint at /api/v1/recipes/")


# --- Caching --------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["list", "detail"])
def test_etag_makes_a_repeat_request_a_304_until_the_content_changes(api, endpoint):
    course_tip = Tip.objects.filter(category__slug="course").first()
    path = "/api/v1/tips/?category=course" if endpoint == "list" else f"/api/v1/tips/{course_tip.slug}/"
    first = api.get(path)
    assert first.status_code == 200
    assert first["ETag"]
    assert first["Last-Modified"]
    again = api.get(path, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    assert api.get(path, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304

    tip_update(tip=course_tip, title="A changed title")
    changed = api.get(path, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]


def test_different_filters_have_different_etags(api):
    assert api.get("/api/v1/tips/?category=course")["ETag"] != api.get("/api/v1/tips/?category=what-to-say")["ETag"]


# --- Keys and throttling -------------------------------------------------------------------------


def test_no_key_is_a_401_saying_how_to_send_one():
    response = APIClient().get("/api/v1/tips/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert "Api-Key" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Api-Key nope.nope", "Api-Key ", "Bearer something"])
def test_a_bad_key_is_a_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/tips/").status_code == 401


def test_a_revoked_key_is_a_403(api, api_key):
    APIKey.objects.filter(prefix=api_key.split(".")[0]).update(revoked=True)
    response = api.get("/api/v1/tips/")
    assert response.status_code == 403
    assert "revoked" in response.json()["detail"]


def test_an_expired_key_is_a_403(api, api_key):
    APIKey.objects.filter(prefix=api_key.split(".")[0]).update(expiry_date=timezone.now() - timedelta(days=1))
    assert "expired" in api.get("/api/v1/tips/").json()["detail"]


def test_each_key_is_throttled_with_retry_after(api, settings):
    settings.API_KEY_THROTTLE_RATE = "3/min"
    assert [api.get("/api/v1/categories/").status_code for _ in range(3)] == [200, 200, 200]
    throttled = api.get("/api/v1/tips/")
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {APIKey.objects.create_key(name='another')[1]}")
    assert other.get("/api/v1/tips/").status_code == 200


def test_a_query_parameter_given_twice_is_refused_not_read_as_its_last_value(api, content):
    response = api.get("/api/v1/tips/?language=es&language=en")
    assert response.status_code == 400
    assert response.json()["detail"] == "Query parameter “language” is given more than once: give it once."


def test_a_tip_is_served_in_spanish_under_its_one_slug(api, content):
    english = api.get("/api/v1/tips/arrange-ride-home/").json()
    spanish = api.get("/api/v1/tips/arrange-ride-home/?language=es").json()
    assert (english["language"], spanish["language"]) == ("en", "es")
    assert english["slug"] == spanish["slug"]
    assert spanish["url"].endswith("/api/v1/tips/arrange-ride-home/?language=es")
    listed = api.get("/api/v1/tips/?language=es&page_size=100").json()
    assert listed["count"] == api.get("/api/v1/tips/?page_size=100").json()["count"]
    assert {tip["language"] for tip in listed["results"]} == {"es"}
