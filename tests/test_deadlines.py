"""Due dates follow the law's counting rule, month ends and closed days."""
from __future__ import annotations

import datetime as dt

from knowledge.deadlines import add_months, due_date, is_closed
from knowledge.schema import Calendar, DeadlineRule


def rule(**fields) -> DeadlineRule:
    return DeadlineRule(basis="test", **fields)


TENNYU = rule(event="住み始めた日", days=14, counting="翌日から数える", holiday_extension=True)
SHUSSEI = rule(event="生まれた日", days=14, counting="当日を1日目として数える",
               holiday_extension=True)


def test_next_day_counting_fourteen_days():
    due = due_date(TENNYU, dt.date(2026, 3, 3))
    assert due.due == dt.date(2026, 3, 17) and not due.moved


def test_same_day_counting_counts_the_event_day_as_day_one():
    assert due_date(SHUSSEI, dt.date(2026, 3, 3)).due == dt.date(2026, 3, 16)


def test_a_due_date_on_a_sunday_moves_to_monday():
    due = due_date(TENNYU, dt.date(2026, 3, 1))  # 3/15 is a Sunday
    assert due.unmoved == dt.date(2026, 3, 15) and due.due == dt.date(2026, 3, 16)
    assert due.moved


def test_golden_week_holidays_are_skipped():
    due = due_date(TENNYU, dt.date(2026, 4, 19))  # 5/3 Sun, 5/4-5/6 holidays
    assert due.due == dt.date(2026, 5, 7)


def test_new_year_closure_is_skipped_for_municipal_offices():
    due = due_date(TENNYU, dt.date(2026, 12, 16))  # 12/30
    assert due.due == dt.date(2027, 1, 4)
    assert is_closed(dt.date(2026, 12, 30))  # a Wednesday, closed for the new year
    assert not is_closed(dt.date(2026, 12, 30), Calendar.national_tax)


def test_without_holiday_extension_the_date_stays():
    no_move = rule(event="x", days=15, counting="翌日から数える", holiday_extension=False)
    assert due_date(no_move, dt.date(2026, 2, 28)).due == dt.date(2026, 3, 15)


def test_month_periods_end_on_the_same_day_or_the_month_end():
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2028, 1, 31), 1) == dt.date(2028, 2, 29)  # leap year
    assert add_months(dt.date(2026, 6, 15), 10) == dt.date(2027, 4, 15)
    sozoku = rule(event="x", months=10, counting="翌日から数える", holiday_extension=True,
                  calendar="国税の休日")
    assert due_date(sozoku, dt.date(2025, 6, 15)).due == dt.date(2026, 4, 15)
    assert due_date(sozoku, dt.date(2025, 5, 16)).due == dt.date(2026, 3, 16)  # 3/16 Mon


def test_unknown_counting_gives_the_earlier_date_and_says_so():
    unknown = rule(event="x", days=14, counting="数え方は未確認")
    due = due_date(unknown, dt.date(2026, 3, 3))
    assert due.due == dt.date(2026, 3, 16) and due.assumed_counting


def test_fixed_yearly_date_moves_off_a_weekend():
    kakutei = rule(fixed_month=3, fixed_day=15, holiday_extension=True, calendar="国税の休日")
    assert due_date(kakutei, dt.date(2026, 1, 1)).due == dt.date(2026, 3, 16)
    assert due_date(kakutei, dt.date(2027, 1, 1)).due == dt.date(2027, 3, 15)
