"""Working-day deadlines and race-free allocation of numbers."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from stdnum.cn import uscc

from tongban.cases.deadlines import add_working_days, clear_schedule_cache, working_days_between
from tongban.cases.models import HolidayYear
from tongban.cases.numbering import case_number_allocate, credit_code_allocate, gb11714_check


@pytest.fixture(autouse=True)
def _fresh_schedule_cache():
    clear_schedule_cache()
    yield
    clear_schedule_cache()


@pytest.mark.django_db
def test_national_day_week_is_skipped():
    # 2026-09-30 (Wed) + 1 working day: 10-01..10-07 are holidays, 10-10 (Sat) is a working day
    day, provisional = add_working_days(dt.date(2026, 9, 30), 1)
    assert not provisional
    assert day == dt.date(2026, 10, 8)
    assert add_working_days(dt.date(2026, 11, 20), 5) == (dt.date(2026, 11, 27), False)


@pytest.mark.django_db
def test_year_without_schedule_is_flagged_not_guessed():
    day, provisional = add_working_days(dt.date(2026, 12, 28), 10)
    assert provisional
    assert day == dt.date(2027, 1, 11)  # weekends only; 2027-01-01 not known to be a holiday


@pytest.mark.django_db
def test_loaded_schedule_is_used_for_a_new_year():
    HolidayYear.objects.create(year=2027, holidays=["2027-01-01"], workdays=["2027-01-09"])
    clear_schedule_cache()
    day, provisional = add_working_days(dt.date(2026, 12, 31), 2)
    assert not provisional
    assert day == dt.date(2027, 1, 5)  # 01-01 holiday, 01-02/03 weekend, 01-04, 01-05
    assert working_days_between(dt.date(2027, 1, 8), dt.date(2027, 1, 11)) == 2  # Sat 9th works


@pytest.mark.django_db
def test_holidays_load_command_validates(tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    good = tmp_path / "2027.json"
    good.write_text('{"holidays": ["2027-01-01", "2027-02-08"], "workdays": ["2027-02-06"]}')
    call_command("holidays_load", year=2027, file=str(good))
    assert HolidayYear.objects.get(year=2027).workdays == ["2027-02-06"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"holidays": [], "workdays": ["2027-02-08"]}')  # a Monday
    with pytest.raises(CommandError):
        call_command("holidays_load", year=2027, file=str(bad))
    with pytest.raises(CommandError):
        call_command("holidays_load", year=2028, file=str(good))


@pytest.mark.django_db
def test_credit_codes_are_valid_and_distinct():
    codes = [credit_code_allocate(region="310118") for _ in range(50)]
    assert len(set(codes)) == 50
    assert all(uscc.is_valid(c) and c.startswith("91310118MA") for c in codes)
    # GB 11714 check character of the embedded organization code
    assert all(gb11714_check(c[8:16]) == c[16] for c in codes)
    assert gb11714_check("D2143569") == "X"  # the example in GB 11714-1997


@pytest.mark.django_db(transaction=True)
def test_case_numbers_do_not_collide_under_concurrency():
    implementation = "11310118046585438B1000301001000"
    results: list[str] = []
    errors: list[BaseException] = []

    def allocate():
        try:
            for _ in range(10):
                results.append(
                    case_number_allocate(
                        implementation_code=implementation, day=dt.date(2026, 11, 21), province="33"
                    )
                )
        except BaseException as exc:  # noqa: BLE001 — surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 80 and len(set(results)) == 80
    assert sorted(int(n[-5:]) for n in results) == list(range(1, 81))
    assert all(n.startswith(implementation + "2026112133") for n in results)
