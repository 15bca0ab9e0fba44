"""The staff dashboard: each figure against numbers worked out by hand, in a clinic on Chicago's
clock with the end of DST (Sunday, November 1, 2026) inside the weeks shown."""

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from caregiver.models import Appointment, Caregiver, ConsentRecord
from content.models import Tip
from messaging.models import CrisisAlert, EmailEvent, InboundMessage, OutboundMessage, TipResponse
from tests import factories
from tests.clients import token_client
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db
CHI = ZoneInfo("America/Chicago")
# Friday after the four weeks shown: Oct 19, Oct 26 (DST ends Sunday Nov 1), Nov 2, Nov 9.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=CHI)
RANGE = "start=2026-10-21&end=2026-11-13"  # widened to whole weeks: Oct 19 to Nov 15
WEEKS = ["2026-10-19", "2026-10-26", "2026-11-02", "2026-11-09"]


def at(day: int, hour: int, minute: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CHI)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def clinic(db):
    return factories.ClinicFactory(name="Lakeside", slug="lake-side", time_zone="America/Chicago")


@pytest.fixture
def staff(clinic) -> Client:
    user = factories.UserFactory(username="dana")
    factories.StaffMembershipFactory(user=user, clinic=clinic)
    client = Client()
    client.force_login(user)
    return client


_n = iter(range(10**6))


def message(caregiver, when, status="delivered", **fields) -> OutboundMessage:
    return factories.OutboundMessageFactory(caregiver=caregiver, send_at=when, status=status, **fields)


def inbound(clinic, when, caregiver=None, **fields) -> InboundMessage:
    text_in = InboundMessage.objects.create(
        message_sid=f"SM{next(_n):032d}",
        from_number=caregiver.phone if caregiver else "+14155550123",
        to_number=clinic.twilio_from_number,
        body="thanks",
        clinic=clinic,
        caregiver=caregiver,
        action=fields.pop("action", InboundMessage.Action.STORED),
        **fields,
    )
    InboundMessage.objects.filter(pk=text_in.pk).update(received_at=when)
    return text_in


def opt_out(caregiver, when, channel="sms") -> None:
    record = factories.ConsentRecordFactory(caregiver=caregiver, action=ConsentRecord.Action.OPT_OUT, channel=channel)
    ConsentRecord.objects.filter(pk=record.pk).update(created_at=when)


def figure(response, key) -> list[dict]:
    assert response.status_code == 200, response.content[:500]
    return response.json()["figures"][key]["rows"]


def api_rows(user, key, query=RANGE):
    return figure(token_client(user).get(f"/api/v1/dashboard/?{query}"), key)


def dana():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="dana")


# --- Messages by outcome, held back, deliverability ------------------------------------------------


@pytest.fixture
def outbox(clinic, other_clinic):
    sam = factories.CaregiverFactory(clinic=clinic)
    jo = factories.CaregiverFactory(clinic=clinic, channels=Caregiver.Channels.EMAIL)
    # Week of Oct 19: the last minutes of Sunday Oct 25 (CDT) are 04:45 UTC on Monday: still Oct 19.
    message(sam, at(20, 10))
    message(sam, at(25, 23, 45), status="failed", error_code="30007")
    # Week of Oct 26 (167... no, 169 hours: the clocks go back): Monday 00:15 is in it, and so is
    # Sunday Nov 1 23:30 CST, which is 05:30 UTC on Monday Nov 2.
    message(sam, at(26, 0, 15), status="undelivered", error_code="21614")
    message(sam, at(1, 23, 30, month=11), status="suppressed", status_reason="quiet_hours")
    message(jo, at(28, 9), status="sent", channel="email")
    message(sam, at(29, 9), status="cancelled", status_reason="appointment_cancelled")
    # Week of Nov 2
    message(sam, at(2, 0, 30, month=11), status="suppressed", status_reason="quiet_hours")
    message(sam, at(3, 9, month=11), status="failed", error_code="30005")
    # Week of Nov 9: one still to go, and a staff alert that is not a message to a caregiver.
    message(sam, at(10, 9, month=11), status="scheduled")
    message(sam, at(11, 9, month=11), kind="alert", clinic=clinic)
    # Outside the weeks, and another clinic's.
    message(sam, at(18, 10))
    message(sam, at(16, 10, month=11))
    message(factories.CaregiverFactory(clinic=other_clinic), at(20, 10))
    # Email events
    for kind, when in (("bounced", at(27, 9)), ("complained", at(27, 10)), ("bounced", at(4, 9, month=11))):
        EmailEvent.objects.create(event_id=f"ev{next(_n)}", kind=kind, clinic=clinic, caregiver=jo, occurred_at=when)
    EmailEvent.objects.create(event_id="theirs", kind="bounced", clinic=other_clinic, occurred_at=at(27, 9))
    return sam, jo


def test_messages_are_counted_by_outcome_in_the_clinics_weeks_across_dst(staff, outbox):
    rows = api_rows(dana(), "messages")
    assert [r["week"] for r in rows] == WEEKS
    assert [(r["delivered"], r["sent"], r["failed"], r["held_back"], r["to_go"], r["total"]) for r in rows] == [
        (1, 0, 1, 0, 0, 2),
        (0, 1, 1, 2, 0, 4),
        (0, 0, 1, 1, 0, 2),
        (0, 0, 0, 0, 1, 1),
    ]


def test_held_back_messages_are_shown_by_reason(staff, outbox):
    rows = api_rows(dana(), "held-back")
    assert [(r["quiet_hours"], r["appointment_cancelled"]) for r in rows] == [(0, 0), (1, 1), (1, 0), (0, 0)]


def test_deliverability_counts_carrier_filtering_invalid_numbers_and_email_events(staff, outbox):
    rows = api_rows(dana(), "deliverability")
    assert [(r["sms"], r["filtered"], r["unreachable"], r["sms_rate"]) for r in rows] == [
        (2, 1, 0, 50.0),
        (1, 0, 1, 100.0),
        (1, 0, 1, 100.0),
        (0, 0, 0, None),
    ]
    assert [(r["email"], r["bounced"], r["complained"]) for r in rows] == [(0, 0, 0), (1, 1, 1), (0, 1, 0), (0, 0, 0)]


# --- Opt-outs and confirmations -----------------------------------------------------------------------


def test_the_opt_out_rate_is_distinct_opt_outs_over_caregivers_messaged_that_week(staff, clinic, other_clinic):
    people = [factories.CaregiverFactory(clinic=clinic) for _ in range(4)]
    for person in people:
        message(person, at(20, 10))
        message(person, at(21, 10))  # two messages, one caregiver messaged
    message(people[0], at(27, 10))
    opt_out(people[0], at(22, 9))
    opt_out(people[0], at(22, 9), channel="email")  # the same caregiver on both channels: one
    opt_out(people[1], at(27, 9))  # a week they got nothing: counted, over one caregiver messaged
    theirs = factories.CaregiverFactory(clinic=other_clinic)
    message(theirs, at(20, 10))
    opt_out(theirs, at(22, 9))
    rows = api_rows(dana(), "opt-outs")
    assert [(r["messaged"], r["opted_out"], r["rate"]) for r in rows] == [
        (4, 1, 25.0),
        (1, 1, 100.0),
        (0, 0, None),
        (0, 0, None),
    ]


def test_the_confirmation_rate_is_new_caregivers_who_opted_in_on_any_channel(staff, clinic, other_clinic):
    added = [factories.CaregiverFactory(clinic=clinic, status="pending") for _ in range(3)]
    factories.ConsentRecordFactory(caregiver=added[0], channel="sms")
    factories.ConsentRecordFactory(caregiver=added[0], channel="email")
    factories.ConsentRecordFactory(caregiver=added[2], channel="email")
    later = factories.CaregiverFactory(clinic=clinic, status="pending")
    Caregiver.objects.filter(pk__in=[c.pk for c in added]).update(created_at=at(20, 9))
    Caregiver.objects.filter(pk=later.pk).update(created_at=at(3, 9, month=11))
    Caregiver.objects.filter(pk=factories.CaregiverFactory(clinic=other_clinic).pk).update(created_at=at(20, 9))
    rows = api_rows(dana(), "confirmations")
    assert [(r["added"], r["confirmed"], r["rate"]) for r in rows] == [
        (3, 2, 66.7),
        (0, 0, None),
        (1, 0, 0.0),
        (0, 0, None),
    ]


# --- Replies, crisis alerts, rides, tips ----------------------------------------------------------------


def test_texts_in_and_staff_replies_per_week(staff, clinic, other_clinic):
    sam = factories.CaregiverFactory(clinic=clinic)
    inbound(clinic, at(20, 9), sam)
    inbound(clinic, at(20, 10), sam)
    inbound(clinic, at(1, 23, 30, month=11))  # an unknown number, still in the week of Oct 26
    inbound(other_clinic, at(20, 9))
    replied = message(sam, at(21, 9), kind="reply", clinic=clinic, sent_by=dana())
    assert replied.sent_by_id
    rows = api_rows(dana(), "replies")
    assert [(r["caregivers"], r["unknown"], r["staff"]) for r in rows] == [(2, 0, 1), (0, 1, 0), (0, 0, 0), (0, 0, 0)]


def alert(clinic, opened_at, acknowledged_after=None, severity="danger", acknowledged_at=None):
    if acknowledged_after:
        acknowledged_at = opened_at.astimezone(UTC) + acknowledged_after
    return CrisisAlert.objects.create(
        clinic=clinic,
        inbound=inbound(clinic, opened_at),
        severity=severity,
        opened_at=opened_at,
        status="acknowledged" if acknowledged_at else "open",
        acknowledged_at=acknowledged_at,
    )


def test_crisis_alerts_count_and_time_to_acknowledge(staff, clinic, other_clinic):
    alert(clinic, at(20, 22), timedelta(minutes=4))
    alert(clinic, at(21, 3), timedelta(minutes=20), severity="help")
    alert(clinic, at(22, 3))  # nobody yet
    # Across the change of clocks: 01:50 CDT to 01:10 CST is 20 minutes, though the clock reads 40 earlier.
    alert(
        clinic,
        datetime(2026, 11, 1, 1, 50, tzinfo=CHI, fold=0),
        acknowledged_at=datetime(2026, 11, 1, 1, 10, tzinfo=CHI, fold=1),
    )
    alert(other_clinic, at(20, 22), timedelta(hours=9))
    rows = api_rows(dana(), "crisis")
    week = rows[0]
    assert (week["alerts"], week["help"], week["acknowledged"], week["waiting"]) == (3, 1, 2, 1)
    assert (week["average_minutes"], week["longest_minutes"]) == (12.0, 20.0)
    assert (rows[1]["alerts"], rows[1]["average_minutes"]) == (1, 20.0)
    assert rows[2]["average_minutes"] is None


def test_rides_confirmed_a_day_ahead_count_treatments_that_are_decided(staff, clinic):
    family = factories.LovedOneFactory(clinic=clinic)

    def session(starts_at, ride_before=None, **fields):
        arranged = starts_at - ride_before if ride_before is not None else None
        return factories.AppointmentFactory(loved_one=family, starts_at=starts_at, ride_arranged_at=arranged, **fields)

    session(at(20, 10), timedelta(days=2))
    session(at(22, 10), timedelta(hours=24))  # exactly a day ahead counts
    session(at(23, 10), timedelta(hours=3))  # arranged the same morning: not ahead
    session(at(24, 10))  # never arranged
    session(at(21, 10), kind=Appointment.Kind.ASSESSMENT)  # no ride needed
    session(at(21, 12), timedelta(days=2), status=Appointment.Status.CANCELLED)
    rows = api_rows(dana(), "rides")
    assert (rows[0]["sessions"], rows[0]["ahead"], rows[0]["rate"]) == (4, 2, 50.0)
    # A session more than a day after now is not decided yet, so not counted.
    session(NOW + timedelta(days=3))
    rows = api_rows(dana(), "rides", query="start=2026-11-16&end=2026-11-29")
    assert [r["sessions"] for r in rows] == [0, 0]


def test_tips_are_ranked_by_the_share_that_found_them_helpful(staff, clinic, other_clinic, content):
    tips = list(Tip.objects.order_by("slug")[:3])
    sam = factories.CaregiverFactory(clinic=clinic)

    def answers(tip, helpful, not_for_me, *, where=clinic, person=sam):
        for value in ["helpful"] * helpful + ["not_for_me"] * not_for_me:
            sent = message(person, at(20, 9), kind="tip", tip=tip)
            TipResponse.objects.create(
                message=sent,
                tip=tip,
                caregiver=person,
                clinic=where,
                value=value,
                channel="sms",
                responded_at=at(21, 9),
            )

    answers(tips[0], 4, 2)  # 66.7 %
    answers(tips[1], 5, 0)  # 100 %
    answers(tips[2], 2, 0)  # 100 %, but only two answers: after the others
    answers(tips[0], 0, 9, where=other_clinic, person=factories.CaregiverFactory(clinic=other_clinic))
    rows = api_rows(dana(), "tips")
    assert [(r["rank"], r["slug"], r["sent"], r["answers"], r["helpful_rate"]) for r in rows] == [
        (1, tips[1].slug, 5, 5, 100.0),
        (2, tips[0].slug, 6, 6, 66.7),
        (3, tips[2].slug, 2, 2, 100.0),
    ]
    assert rows[0]["tip"] == tips[1].title


# --- The page, its CSV files, who sees what ----------------------------------------------------------


def test_an_empty_clinic_renders_every_chart_with_its_table(staff):
    response = staff.get("/staff/dashboard/")
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('role="img"') == 8  # the tips are a table only
    assert page.count("Download the numbers (CSV)") == 9
    assert "style=" not in page
    assert "<script>" not in page
    assert "Nothing in these weeks" in text(response)
    # The last 12 weeks by default, ending with this one.
    assert "Weeks from Monday Aug 31, 2026 to Sunday Nov 22, 2026" in text(response)


def test_the_page_draws_the_opt_out_watch_line_and_the_numbers(staff, clinic):
    person = factories.CaregiverFactory(clinic=clinic)
    message(person, at(20, 10))
    opt_out(person, at(21, 10))
    response = staff.get(f"/staff/dashboard/?{RANGE}")
    page = response.content.decode()
    assert 'class="reference"' in page
    assert "1.5 %" in page
    assert "100 %" in text(response)
    assert "Oct 19, 2026" in text(response)
    assert 'value="2026-10-21"' in page


@pytest.mark.parametrize(
    ("query", "message_text"),
    [
        ("start=2026-13-01", "Enter a valid date."),
        ("start=yesterday", "Write the date as YYYY-MM-DD"),
        ("start=2026-1-1", "Write the date as YYYY-MM-DD"),
        ("start=٢٠٢٦-٠١-٠١", "Write the date as YYYY-MM-DD"),
        ("start=2026-11-10&end=2026-11-01", "“From” is after “To”"),
        ("start=2020-01-01&end=2026-11-01", "at most two years"),
        ("start=1999-01-01&end=1999-02-01", "Choose dates between"),
        ("end=99999-01-01", "Write the date as YYYY-MM-DD"),
    ],
)
def test_bad_dates_are_a_400_page_that_says_what_to_fix(staff, query, message_text):
    response = staff.get(f"/staff/dashboard/?{query}")
    assert response.status_code == 400
    assert message_text in text(response)
    assert token_client(dana()).get(f"/api/v1/dashboard/?{query}").status_code == 400
    assert staff.get(f"/staff/dashboard/messages.csv?{query}").status_code == 400


def test_another_clinics_dashboard_is_a_404_and_its_data_never_shows(staff, clinic, other_clinic):
    message(factories.CaregiverFactory(clinic=other_clinic), at(20, 10))
    for query in (f"clinic={other_clinic.pk}", "clinic=abc", "clinic=999999"):
        assert staff.get(f"/staff/dashboard/?{query}").status_code == 404
        assert staff.get(f"/staff/dashboard/messages.csv?{query}").status_code == 404
        assert token_client(dana()).get(f"/api/v1/dashboard/?{query}").status_code == 404
    assert all(r["total"] == 0 for r in api_rows(dana(), "messages"))
    assert Client().get("/staff/dashboard/messages.csv")["Location"].startswith("/staff/login/?next=")


def test_a_member_of_two_clinics_picks_one(staff, clinic, other_clinic):
    factories.StaffMembershipFactory(user=dana(), clinic=other_clinic)
    message(factories.CaregiverFactory(clinic=other_clinic), at(20, 10))
    page = staff.get(f"/staff/dashboard/?{RANGE}&clinic={other_clinic.pk}")
    assert f'<option value="{other_clinic.pk}" selected>' in page.content.decode()
    assert api_rows(dana(), "messages", query=f"{RANGE}&clinic={other_clinic.pk}")[0]["delivered"] == 1
    assert api_rows(dana(), "messages", query=f"{RANGE}&clinic={clinic.pk}")[0]["delivered"] == 0


def test_the_csv_has_the_tables_numbers_a_safe_name_and_no_formulas(staff, clinic, content):
    tip = Tip.objects.order_by("slug").first()
    Tip.objects.filter(pk=tip.pk).update(title='=HYPERLINK("http://evil")')
    sam = factories.CaregiverFactory(clinic=clinic)
    sent = message(sam, at(20, 9), kind="tip", tip=tip)
    TipResponse.objects.create(
        message=sent, tip=tip, caregiver=sam, clinic=clinic, value="helpful", channel="sms", responded_at=at(21, 9)
    )
    response = staff.get(f"/staff/dashboard/messages.csv?{RANGE}")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="lake-side-messages-2026-10-19-to-2026-11-15.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Week of (Monday)", "Delivered", "Sent, no report", "Failed", "Held back", "Still to go", "All"]
    assert rows[1:] == [["2026-10-19", "1", "0", "0", "0", "0", "1"]] + [
        [w, "0", "0", "0", "0", "0", "0"] for w in WEEKS[1:]
    ]
    tips = list(csv.reader(io.StringIO(staff.get(f"/staff/dashboard/tips.csv?{RANGE}").content.decode())))
    assert tips[1][1] == '\'=HYPERLINK("http://evil")'
    assert staff.get("/staff/dashboard/nothing.csv").status_code == 404


def test_the_page_costs_the_same_few_queries_whatever_the_data(staff, clinic, content, django_assert_max_num_queries):
    def seed(n):
        people = [factories.CaregiverFactory(clinic=clinic) for _ in range(n)]
        for index, person in enumerate(people):
            message(
                person,
                at(20 + index % 5, 10),
                status=["delivered", "failed", "suppressed"][index % 3],
                status_reason="quiet_hours" if index % 3 == 2 else "",
            )
            opt_out(person, at(21, 10))
            inbound(clinic, at(22, 10), person)
            alert(clinic, at(23, 10), timedelta(minutes=index + 1))

    seed(3)
    with django_assert_max_num_queries(22) as few:
        assert staff.get(f"/staff/dashboard/?{RANGE}").status_code == 200
    seed(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert staff.get(f"/staff/dashboard/?{RANGE}").status_code == 200


def test_the_api_answers_the_figures_with_their_definitions(staff, clinic):
    response = token_client(dana()).get(f"/api/v1/dashboard/?{RANGE}")
    body = response.json()
    assert body["clinic"] == {"id": clinic.pk, "name": "Lakeside", "time_zone": "America/Chicago"}
    assert (body["start"], body["end"], body["weeks"]) == ("2026-10-19", "2026-11-15", WEEKS)
    assert set(body["figures"]) == {
        "messages",
        "held-back",
        "opt-outs",
        "confirmations",
        "replies",
        "crisis",
        "rides",
        "deliverability",
        "tips",
    }
    assert body["figures"]["opt-outs"]["reference"] == 1.5
    assert "divided by the caregivers a message went out to" in body["figures"]["opt-outs"]["definition"]
    assert Client().get("/api/v1/dashboard/").status_code == 401
    assert token_client(dana()).get("/api/v1/dashboard/?since=2026-01-01").status_code == 400
