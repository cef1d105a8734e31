from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from domain.calendar import (
    WorkingCalendar,
    format_jalali,
    jalali_to_gregorian,
    to_jalali_date_str,
)

TEHRAN = ZoneInfo("Asia/Tehran")
# Checked with jdatetime: 1405/08/27 = 2026-11-18 (Wednesday),
# 1405/08/28 = Thursday, 1405/08/29 = Friday, 1405/08/30 = Saturday (last day of Aban),
# 1405/09/01 = 2026-11-22 (Sunday), 1405/09/02 = Monday, 1405/09/03 = Tuesday.
WED = date(2026, 11, 18)
THU = date(2026, 11, 19)
FRI = date(2026, 11, 20)
SAT = date(2026, 11, 21)
SUN = date(2026, 11, 22)
MON = date(2026, 11, 23)
TUE = date(2026, 11, 24)


def at(d: date, hour: int = 10, minute: int = 0, tz=TEHRAN) -> datetime:
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=tz)


def test_default_weekend_is_thursday_and_friday():
    cal = WorkingCalendar()
    assert [cal.is_working_day(d) for d in (WED, THU, FRI, SAT, SUN)] == [
        True,
        False,
        False,
        True,
        True,
    ]


def test_holiday_is_not_a_working_day():
    cal = WorkingCalendar(holidays=frozenset({SUN}))
    assert not cal.is_working_day(SUN)
    assert cal.is_working_day(MON)


def test_is_working_day_refuses_datetime():
    with pytest.raises(TypeError):
        WorkingCalendar().is_working_day(at(SAT))


def test_add_working_days_skips_weekend():
    cal = WorkingCalendar()
    assert cal.add_working_days(at(WED, 9, 15), 1) == at(SAT, 9, 15)
    assert cal.add_working_days(at(WED, 9, 15), 2) == at(SUN, 9, 15)


def test_add_working_days_skips_holiday():
    cal = WorkingCalendar(holidays=frozenset({SUN}))
    assert cal.add_working_days(at(SAT), 1) == at(MON)


def test_start_on_non_working_day_does_not_count():
    cal = WorkingCalendar()
    assert cal.add_working_days(at(THU), 1) == at(SAT)
    assert cal.add_working_days(at(FRI, 23, 59), 1) == at(SAT, 23, 59)


def test_due_date_crosses_jalali_month_boundary():
    # Start Wednesday 1405/08/27; Thursday and Friday are off, 1405/09/01 is a holiday.
    holiday = jalali_to_gregorian(1405, 9, 1)
    cal = WorkingCalendar(holidays=frozenset({holiday}))
    start = datetime(2026, 11, 18, 14, 30, tzinfo=TEHRAN)
    assert to_jalali_date_str(start) == "1405/08/27"

    due = cal.add_working_days(start, 3)

    assert to_jalali_date_str(due) == "1405/09/03"
    assert due == datetime(2026, 11, 24, 14, 30, tzinfo=TEHRAN)
    assert format_jalali(due) == "۱۴۰۵/۰۹/۰۳ ۱۴:۳۰"


def test_due_date_crosses_shahrivar_to_mehr():
    # 1405/06/29 is Sunday 2026-09-20; Shahrivar has 31 days, Mehr 1 is Wednesday.
    cal = WorkingCalendar(holidays=frozenset({jalali_to_gregorian(1405, 6, 31)}))
    start = datetime(2026, 9, 20, 8, 0, tzinfo=TEHRAN)
    assert to_jalali_date_str(start) == "1405/06/29"
    # 06/30 Mon (1), 06/31 Tue holiday, 07/01 Wed (2), 07/02-03 Thu-Fri off, 07/04 Sat (3).
    assert to_jalali_date_str(cal.add_working_days(start, 3)) == "1405/07/04"


def test_zero_days_returns_start_unchanged():
    start = datetime(2026, 11, 19, 6, 0, tzinfo=UTC)
    result = WorkingCalendar().add_working_days(start, 0)
    assert result == start
    assert result.tzinfo is UTC


def test_negative_days_refused():
    with pytest.raises(ValueError):
        WorkingCalendar().add_working_days(at(WED), -1)


def test_naive_datetime_refused():
    cal = WorkingCalendar()
    with pytest.raises(ValueError):
        cal.add_working_days(datetime(2026, 11, 18, 10, 0), 1)
    with pytest.raises(ValueError):
        cal.working_days_between(datetime(2026, 11, 18), at(SAT))
    with pytest.raises(ValueError):
        format_jalali(datetime(2026, 11, 18, 10, 0))


def test_arithmetic_uses_tehran_local_date():
    # 21:00 UTC on Tuesday is 00:30 on Wednesday in Tehran (UTC+03:30).
    start = datetime(2026, 11, 17, 21, 0, tzinfo=UTC)
    due = WorkingCalendar().add_working_days(start, 1)
    assert due == datetime(2026, 11, 21, 0, 30, tzinfo=TEHRAN)
    assert due.tzinfo is TEHRAN
    assert due.utcoffset() == timedelta(hours=3, minutes=30)
    assert (due.year, due.month, due.day, due.hour, due.minute) == (2026, 11, 21, 0, 30)


def test_other_calendar_timezone():
    cal = WorkingCalendar(timezone="UTC")
    start = datetime(2026, 11, 17, 21, 0, tzinfo=UTC)
    assert cal.add_working_days(start, 1) == datetime(2026, 11, 18, 21, 0, tzinfo=UTC)


def test_configurable_weekend_only_friday():
    cal = WorkingCalendar(weekend=frozenset({4}))
    assert cal.is_working_day(THU)
    assert cal.add_working_days(at(WED), 2) == at(SAT)


def test_weekend_accepts_a_list():
    assert WorkingCalendar(weekend=[4]).weekend == frozenset({4})


@pytest.mark.parametrize("weekend", [frozenset(range(7)), frozenset({7}), frozenset({-1})])
def test_bad_weekend_refused(weekend):
    with pytest.raises(ValidationError):
        WorkingCalendar(weekend=weekend)


def test_unknown_timezone_refused():
    with pytest.raises(ValidationError):
        WorkingCalendar(timezone="Asia/Nowhere")


def test_calendar_is_frozen():
    cal = WorkingCalendar()
    with pytest.raises(ValidationError):
        cal.weekend = frozenset({4})


def test_working_days_between():
    cal = WorkingCalendar(holidays=frozenset({SUN}))
    assert cal.working_days_between(at(WED), at(TUE)) == 3  # Sat, Mon, Tue
    assert cal.working_days_between(at(WED, 8), at(WED, 18)) == 0
    assert cal.working_days_between(at(WED), at(FRI)) == 0
    assert cal.working_days_between(at(TUE), at(WED)) == 0


def test_working_days_between_inverts_add_working_days():
    cal = WorkingCalendar(holidays=frozenset({SUN}))
    start = at(WED, 16, 45)
    for days in range(10):
        assert cal.working_days_between(start, cal.add_working_days(start, days)) == days


def test_to_jalali_date_str():
    assert to_jalali_date_str(date(2026, 11, 25)) == "1405/09/04"
    assert to_jalali_date_str(date(2026, 3, 21)) == "1405/01/01"
    # 21:00 UTC on 24 November is already 25 November in Tehran.
    assert to_jalali_date_str(datetime(2026, 11, 24, 21, 0, tzinfo=UTC)) == "1405/09/04"


def test_jalali_to_gregorian():
    assert jalali_to_gregorian(1405, 1, 1) == date(2026, 3, 21)
    assert jalali_to_gregorian(1405, 9, 4) == date(2026, 11, 25)
    assert jalali_to_gregorian(1405, 6, 31) == date(2026, 9, 22)
    with pytest.raises(ValueError):
        jalali_to_gregorian(1405, 7, 31)


def test_format_jalali():
    dt = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    assert format_jalali(dt) == "۱۴۰۵/۰۹/۰۴ ۱۴:۳۰"
    assert format_jalali(dt, persian_digits=False) == "1405/09/04 14:30"
    plus_two = timezone(timedelta(hours=2))
    assert format_jalali(datetime(2026, 11, 25, 13, 0, tzinfo=plus_two)) == "۱۴۰۵/۰۹/۰۴ ۱۴:۳۰"


def test_subtract_working_days_skips_the_weekend_and_holidays():
    cal = WorkingCalendar(holidays=frozenset({WED - timedelta(days=1)}))
    # Two working days before Wednesday 10:00: Monday (Tuesday is a holiday), then Sunday.
    assert cal.subtract_working_days(at(WED), 2) == at(WED - timedelta(days=3))
    # One working day before Saturday: Wednesday (Thursday and Friday are the weekend).
    assert cal.subtract_working_days(at(SAT), 1) == at(WED)
    assert cal.subtract_working_days(at(SAT), 0) == at(SAT)
    with pytest.raises(ValueError):
        cal.subtract_working_days(at(SAT), -1)


def test_a_promise_by_a_date_ends_at_local_midnight():
    cal = WorkingCalendar()
    end = cal.end_of_day(WED)
    assert end == datetime(2026, 11, 19, 0, 0, tzinfo=TEHRAN)
    assert end.astimezone(UTC) == datetime(2026, 11, 18, 20, 30, tzinfo=UTC)
