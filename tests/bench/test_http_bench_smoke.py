"""bench/http_bench.py's pure pieces, quickly: no gunicorn, no wrk, no database."""

from urllib.parse import parse_qsl

import pytest
from django.db import connection
from twilio.request_validator import RequestValidator

from bench import http_bench
from bench.common import STORED_TABLE, STORED_TABLE_CREATE
from bench.http_bench import Endpoint, compare, once_check, parse_wrk, sent_by_threads

BASE = "http://127.0.0.1:48085"
TOKEN = "bench-test-token"

# Captured from `wrk --latency -s bench/wrk/signed_posts.lua` against the bench gunicorn.
WEBHOOK_RUN = """\
Running 1s test @ http://127.0.0.1:48085/webhooks/twilio/inbound/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    98.66ms   23.18ms 175.53ms   68.75%
    Req/Sec    39.50     13.13    80.00     80.00%
  Latency Distribution
     50%  101.67ms
     75%  114.12ms
     90%  125.57ms
     99%  175.53ms
  80 requests in 1.01s, 25.78KB read
Requests/sec:     78.96
Transfer/sec:     25.45KB
signed-posts thread 1: loaded 300, sent 45
signed-posts thread 2: loaded 300, sent 43
"""

# Captured from plain `wrk --latency` on a URL that answers 404; units edited to cover us and s.
ERROR_RUN = """\
Running 1s test @ http://127.0.0.1:48085/nope/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    10.87ms    4.37ms  33.19ms   75.96%
    Req/Sec   368.70     90.73   534.00     65.00%
  Latency Distribution
     50%  969.00us
     75%   13.04ms
     90%   16.63ms
     99%    1.26s
  737 requests in 1.01s, 336.39KB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 737
Requests/sec:    732.65
Transfer/sec:    334.41KB
"""


def text_posts(count=3):
    return http_bench.inbound_posts(
        base_url=BASE, token=TOKEN, senders=["+12025550101", "+12125550102"], to_number="+12025550199",
        count=count, prefix="abc123a",
    )  # fmt: skip


def test_wrk_output_gives_requests_per_second_and_percentiles_in_ms():
    run = parse_wrk(WEBHOOK_RUN)
    assert (run["rps"], run["requests"], run["duration_s"]) == (78.96, 80, 1.01)
    assert (run["p50_ms"], run["p99_ms"]) == (101.67, 175.53)
    assert run["error_responses"] == 0
    assert run["threads"] == [{"id": 1, "loaded": 300, "sent": 45}, {"id": 2, "loaded": 300, "sent": 43}]


def test_wrk_errors_and_other_time_units_are_read():
    run = parse_wrk(ERROR_RUN)
    assert (run["p50_ms"], run["p99_ms"]) == (0.969, 1260.0)
    assert run["error_responses"] == 737
    assert run["socket_errors"] == {"connect": 0, "read": 3, "write": 0, "timeout": 2}


def test_output_that_is_not_wrk_is_refused():
    with pytest.raises(ValueError, match="Not wrk output"):
        parse_wrk("wrk: command not found")


def test_a_generated_inbound_text_validates_as_twilio_signed_it():
    post = text_posts(1)[0]
    params = dict(parse_qsl(post.body, keep_blank_values=True))
    assert RequestValidator(TOKEN).validate(BASE + post.path, params, post.signature)
    assert not RequestValidator("another-token").validate(BASE + post.path, params, post.signature)
    assert (params["From"], params["To"]) == ("+12025550101", "+12025550199")


def test_a_status_callback_is_signed_over_its_query_string():
    post = http_bench.status_posts(
        base_url=BASE, token=TOKEN, messages=[(42, "SM" + "f" * 32, "+12025550101")], from_number="+12025550199"
    )[0]
    params = dict(parse_qsl(post.body))
    assert post.path == "/webhooks/twilio/status/?m=42"
    assert params["MessageStatus"] == "delivered"
    assert RequestValidator(TOKEN).validate(BASE + post.path, params, post.signature)
    assert not RequestValidator(TOKEN).validate(BASE + "/webhooks/twilio/status/?m=43", params, post.signature)


def test_each_text_has_its_own_twilio_shaped_sid_and_fits_on_one_line_for_lua():
    posts = text_posts(50)
    sids = [dict(parse_qsl(p.body))["MessageSid"] for p in posts]
    assert len(set(sids)) == 50
    assert all(len(sid) == 34 and sid.startswith("SM") for sid in sids)
    for post in posts:
        path, signature, body = post.line().split("\t")
        assert (path, signature, body) == (post.path, post.signature, post.body)
        assert "\n" not in post.line()


def test_the_texts_sent_are_plain_replies_that_are_only_stored():
    from messaging.reading import Reading, read_text

    for body in http_bench.PLAIN_REPLIES:
        assert read_text(body).reading == Reading.TEXT, body


def test_caregiver_numbers_are_distinct_e164():
    phones = http_bench.caregiver_phones(250)
    assert len(set(phones)) == 250
    assert all(len(p) == 12 and p.startswith("+1") and p[1:].isdigit() for p in phones)


def test_an_endpoint_is_compared_with_the_mean_of_its_neighbouring_hello_runs():
    row = compare(rps=600, hello_rps=[900, 1100], bar=0.6)
    assert (row["hello_rps_mean"], row["ratio"], row["passed"]) == (1000, 0.6, True)
    assert compare(rps=599, hello_rps=[900, 1100], bar=0.6)["passed"] is False


@pytest.mark.postgres
def test_the_floor_stores_a_row_for_each_request(client, settings, db):
    settings.ROOT_URLCONF = "bench.urls"
    with connection.cursor() as cursor:
        cursor.execute(STORED_TABLE_CREATE)
    responses = [client.get(http_bench.STORED_PATH) for _ in range(3)]
    assert [(r.status_code, r.content) for r in responses] == [(200, b"stored")] * 3
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {STORED_TABLE}")  # noqa: S608 - a constant
        assert cursor.fetchone() == (3,)


def test_the_floor_has_a_ratio_but_no_verdict():
    row = compare(rps=500, hello_rps=[1000, 1000], bar=None)
    assert (row["ratio"], row["passed"]) == (0.5, None)
    hello = {"rps": 1000.0, "p50_ms": 3.5, "p99_ms": 8.0}
    line = http_bench.table(
        hello=hello, endpoints=[(http_bench.ENDPOINTS[-1], {**row, "p50_ms": 6.0, "p99_ms": 9.0})]
    ).splitlines()[-1]
    assert "floor" in line
    assert "0.50" in line
    assert "MISSED" not in line
    assert "pass" not in line


def test_the_threads_share_of_requests_is_known_and_repeats_are_counted():
    items = [f"r{n}" for n in range(10)]
    sent, repeats = sent_by_threads(items, [{"id": 1, "loaded": 5, "sent": 2}, {"id": 2, "loaded": 5, "sent": 7}])
    assert sent == ["r0", "r2", "r1", "r3", "r5", "r7", "r9"]
    assert repeats == 2


def test_every_webhook_sent_processed_once_passes():
    result = once_check(
        sent=["a", "b", "c"], repeats=0, processed={"a": 1, "b": 1, "c": 1}, responses=3, error_responses=0,
        cut_off_allowance=8,
    )  # fmt: skip
    assert result["passed"]
    assert result["processed_once"] == 3


@pytest.mark.parametrize(
    ("processed", "responses", "allowance", "errors"),
    [
        ({"a": 2, "b": 1}, 2, 8, 0),  # processed twice
        ({"a": 1, "b": 1, "z": 1}, 2, 8, 0),  # processed without being sent
        ({"a": 1}, 2, 8, 0),  # answered but not processed
        ({}, 0, 1, 0),  # more cut off at the end than connections
        ({"a": 1, "b": 1}, 2, 8, 1),  # an error response
    ],
)
def test_a_webhook_lost_or_processed_twice_fails(processed, responses, allowance, errors):
    result = once_check(
        sent=["a", "b"], repeats=0, processed=processed, responses=responses, error_responses=errors,
        cut_off_allowance=allowance,
    )  # fmt: skip
    assert not result["passed"]


def test_the_table_says_missed_for_a_bar_not_met():
    hello = {"rps": 2000.0, "p50_ms": 3.5, "p99_ms": 8.0}
    row = {"rps": 100.0, "p50_ms": 80.0, "p99_ms": 120.0, "hello_rps_mean": 2000.0, "ratio": 0.05, "bar": 0.6}
    text = http_bench.table(hello=hello, endpoints=[(Endpoint("tips_list", "GET tips", 0.6), {**row, "passed": False})])
    assert "MISSED" in text.splitlines()[-1]
    assert "hello world" in text


def test_server_cpu_counts_processes_that_started_during_the_run_from_zero():
    assert http_bench.cpu_used({1: 2.0, 2: 1.0}, {1: 2.5, 2: 1.5, 3: 0.25}) == pytest.approx(1.25)


def test_cpu_ratio_is_hellos_cpu_per_request_over_the_endpoints():
    row = compare(rps=100, hello_rps=[1000, 1000], bar=0.5, cpu_ms=2.0, hello_cpu_ms=[0.4, 0.6])
    assert (row["hello_cpu_ms_per_request"], row["cpu_ratio"]) == (0.5, 0.25)
