"""The course planner: the first day staff chose, the weekdays they picked, around closure days."""

from datetime import date, time, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from caregiver.services.families import course_sessions

MONDAY = date(2027, 3, 15)


def days(**kwargs) -> list[date]:
    return [session.local.date() for session in course_sessions(**kwargs)]


def test_a_closed_friday_moves_to_monday_not_saturday_and_the_pattern_follows():
    planned = days(first_day=MONDAY, at=time(10), weekdays=[0, 2, 4], sessions=6, closed={date(2027, 3, 19): "Holiday"})
    assert planned == [
        date(2027, 3, 15), date(2027, 3, 17),
        date(2027, 3, 22),  # Friday the 19th is closed: Monday, not Saturday
        date(2027, 3, 24), date(2027, 3, 26), date(2027, 3, 29),  # and the pattern goes on from there
    ]  # fmt: skip


def test_two_closures_in_a_row_do_not_pile_sessions_onto_consecutive_days():
    """Found by an outside tester: closures on Fri Dec 25 and Mon Dec 28 gave Dec 29, 30, 31 and
    Jan 1, four sessions on four days in a row."""
    planned = days(
        first_day=date(2026, 12, 21), at=time(10), weekdays=[0, 2, 4], sessions=6,
        closed={date(2026, 12, 25): "Christmas", date(2026, 12, 28): ""},
    )  # fmt: skip
    assert planned == [
        date(2026, 12, 21), date(2026, 12, 23),
        date(2026, 12, 29),  # Friday and Monday closed: Tuesday
        date(2026, 12, 30), date(2027, 1, 1), date(2027, 1, 4),
    ]  # fmt: skip
    gaps = [(b - a).days for a, b in pairwise(planned)]
    assert gaps.count(1) <= 1


@given(
    weekdays=st.sets(st.integers(0, 6), min_size=1),
    sessions=st.integers(1, 24),
    start=st.integers(0, 14),
    closed=st.sets(st.integers(0, 40), max_size=15),
    maintenance=st.integers(0, 4),
)
def test_every_planned_session_is_on_an_open_working_day_in_order(weekdays, sessions, start, closed, maintenance):

    first_day = MONDAY + timedelta(days=start)
    closure_days = {MONDAY + timedelta(days=n): "" for n in closed}
    planned = days(
        first_day=first_day, at=time(10), weekdays=sorted(weekdays), sessions=sessions, closed=closure_days,
        maintenance_every_weeks=4, maintenance_sessions=maintenance,
    )  # fmt: skip
    assert len(planned) == sessions + maintenance
    assert planned == sorted(set(planned))  # one a day, in order
    assert planned[0] >= first_day
    # Staff chose these weekdays and the first day's (boosters follow the last session's weekday);
    # a moved session may land on any weekday from Monday to Friday as well.
    working = {0, 1, 2, 3, 4, first_day.weekday(), *weekdays}
    for day in planned:
        assert day not in closure_days
        assert day.weekday() in working
