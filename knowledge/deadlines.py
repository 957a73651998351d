"""Turn a deadline rule and an event date into the calendar date it falls due.

Counting follows the rule's own words: 翌日から数える (初日不算入, 民法 第140条: the event day
is not day 1) or 当日を1日目として数える (初日算入, e.g. 出生届 counts the day of birth).
Where the sources give no counting rule, the earlier date is given and flagged. Month
periods end on the same day number (or the month's last day when it has none). When the
rule says so, a due date on a closed day moves to the next open day (jpholiday for the
national holidays).
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import jpholiday

from knowledge.schema import Calendar, Counting, DeadlineRule


@dataclass(frozen=True)
class DueDate:
    due: dt.date
    unmoved: dt.date  # before moving off closed days; equal to ``due`` when not moved
    assumed_counting: bool  # True when the counting rule was unknown (earlier date given)

    @property
    def moved(self) -> bool:
        return self.due != self.unmoved


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day number ``months`` later, or that month's last day when it has none."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def is_closed(day: dt.date, which: Calendar = Calendar.municipal) -> bool:
    """Weekends, national holidays and, for municipal offices, 12/29-1/3."""
    if day.weekday() >= 5 or jpholiday.is_holiday(day):
        return True
    if which is Calendar.municipal:
        return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)
    return False


def next_open_day(day: dt.date, which: Calendar = Calendar.municipal) -> dt.date:
    while is_closed(day, which):
        day += dt.timedelta(days=1)
    return day


def due_date(rule: DeadlineRule, event: dt.date) -> DueDate:
    """When ``rule`` falls due for an event on ``event`` (for fixed dates: that year's)."""
    if rule.fixed_month is not None:
        raw = dt.date(event.year, rule.fixed_month, rule.fixed_day)
        assumed = False
    else:
        assumed = rule.counting is Counting.unknown
        end_inclusive = rule.counting is not Counting.next_day
        if rule.days is not None:
            raw = event + dt.timedelta(days=rule.days - (1 if end_inclusive else 0))
        else:
            raw = add_months(event, rule.months)
            if end_inclusive:
                raw -= dt.timedelta(days=1)
    due = next_open_day(raw, rule.calendar) if rule.holiday_extension else raw
    return DueDate(due=due, unmoved=raw, assumed_counting=assumed)
