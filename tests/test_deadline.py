"""bot/deadline.py and `rightsdesk deadline`: shared/domain.md §1, every worked example."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import cli
from bot.deadline import Calendar, add_months

HEL = ZoneInfo("Europe/Helsinki")
CAL = Calendar()


def at_noon(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 12, 0, tzinfo=HEL)


# domain.md §1 worked examples (Finland).
WORKED = [
    (date(2026, 3, 5), date(2026, 4, 7)),    # Easter Sunday 5 Apr, Easter Monday 6 Apr
    (date(2026, 1, 31), date(2026, 3, 2)),   # 28 Feb is a Saturday
    (date(2026, 8, 31), date(2026, 9, 30)),
    (date(2026, 12, 1), date(2027, 1, 4)),   # 1 Jan holiday, then the weekend
    (date(2026, 11, 24), date(2026, 12, 24)),  # Christmas Eve counts as a working day
]


@pytest.mark.parametrize("received, deadline", WORKED, ids=[str(r) for r, _ in WORKED])
def test_worked_examples(received: date, deadline: date) -> None:
    dl = CAL.deadlines(at_noon(received))
    assert dl.received_date == received
    assert dl.deadline == deadline


def test_extension_example() -> None:
    """Receipt 31 Jan 2026 → 28 Apr 2026: the earlier of receipt + 3 months (30 Apr) and the
    unrolled one-month end (28 Feb) + 2 months (28 Apr)."""
    assert CAL.deadlines(at_noon(date(2026, 1, 31))).extended_deadline == date(2026, 4, 28)


@pytest.mark.parametrize("received, extended", [
    (date(2026, 3, 5), date(2026, 6, 5)),
    (date(2026, 8, 31), date(2026, 11, 30)),
    (date(2026, 12, 1), date(2027, 3, 1)),    # 1 Mar 2027 is a Monday
    (date(2026, 11, 24), date(2027, 2, 24)),
    (date(2026, 3, 31), date(2026, 6, 30)),
    (date(2026, 10, 6), date(2027, 1, 7)),    # 6 Jan Epiphany → Thu 7 Jan
])
def test_extended_deadline(received: date, extended: date) -> None:
    assert CAL.deadlines(at_noon(received)).extended_deadline == extended


@pytest.mark.parametrize("received, deadline", [
    (date(2026, 1, 31), date(2026, 3, 2)),   # 28 Feb 2026 (Sat) → Mon 2 Mar
    (date(2028, 1, 31), date(2028, 2, 29)),  # leap year: 29 Feb 2028, a Tuesday
    (date(2028, 2, 29), date(2028, 3, 29)),
    (date(2026, 3, 31), date(2026, 4, 30)),  # 31 Apr does not exist → Thu 30 Apr
    (date(2026, 5, 31), date(2026, 6, 30)),
    (date(2026, 10, 31), date(2026, 11, 30)),
    (date(2026, 12, 31), date(2027, 2, 1)),  # 31 Jan 2027 is a Sunday
])
def test_end_of_month_clamping(received: date, deadline: date) -> None:
    assert CAL.deadlines(at_noon(received)).deadline == deadline


@pytest.mark.parametrize("d, months, expected", [
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),
    (date(2026, 3, 31), 1, date(2026, 4, 30)),
    (date(2026, 11, 30), 3, date(2027, 2, 28)),
    (date(2026, 12, 15), 1, date(2027, 1, 15)),
    (date(2026, 2, 28), 2, date(2026, 4, 28)),
])
def test_add_months(d: date, months: int, expected: date) -> None:
    assert add_months(d, months) == expected


def test_eves_are_working_days_other_holidays_are_not() -> None:
    assert CAL.is_working_day(date(2026, 12, 24))  # Christmas Eve (Thursday)
    assert CAL.is_working_day(date(2026, 6, 19))   # Midsummer Eve (Friday)
    for holiday in (date(2026, 1, 1), date(2026, 1, 6), date(2026, 4, 3), date(2026, 4, 6),
                    date(2026, 5, 1), date(2026, 5, 14), date(2026, 12, 6),
                    date(2026, 12, 25), date(2026, 12, 26)):
        assert not CAL.is_working_day(holiday), holiday
    assert not CAL.is_working_day(date(2026, 3, 7))  # a Saturday


def test_midsummer_eve_as_deadline() -> None:
    # Receipt Tue 19 May 2026 → Fri 19 Jun 2026, Midsummer Eve: a working day (domain.md §1).
    assert CAL.deadlines(at_noon(date(2026, 5, 19))).deadline == date(2026, 6, 19)
    # Receipt Wed 20 May → Sat 20 Jun is Midsummer Day → Mon 22 Jun.
    assert CAL.deadlines(at_noon(date(2026, 5, 20))).deadline == date(2026, 6, 22)


def test_the_eves_are_configurable() -> None:
    """Counting the eves as holidays (another reading) must move the deadline later."""
    strict = Calendar(working_day_holidays=())
    assert not strict.is_working_day(date(2026, 12, 24))
    assert strict.deadlines(at_noon(date(2026, 11, 24))).deadline == date(2026, 12, 28)
    assert strict.deadlines(at_noon(date(2026, 5, 19))).deadline == date(2026, 6, 22)


# -- receipt instant → Helsinki date -----------------------------------------------------------
@pytest.mark.parametrize("instant, received, deadline", [
    # 31 Aug 2026 21:30 UTC is 1 Sep 00:30 in Helsinki (EEST, +3).
    (datetime(2026, 8, 31, 21, 30, tzinfo=UTC), date(2026, 9, 1),
     date(2026, 10, 1)),
    (datetime(2026, 8, 31, 20, 59, tzinfo=UTC), date(2026, 8, 31), date(2026, 9, 30)),
    # Winter (EET, +2): 22:30 UTC on 4 Mar is 00:30 on 5 Mar in Helsinki.
    (datetime(2026, 3, 4, 22, 30, tzinfo=UTC), date(2026, 3, 5), date(2026, 4, 7)),
    (datetime(2026, 3, 4, 21, 59, tzinfo=UTC), date(2026, 3, 4), date(2026, 4, 7)),
    # An offset from elsewhere: 23:30 in New York on 4 Mar is 06:30 on 5 Mar in Helsinki.
    (datetime(2026, 3, 4, 23, 30, tzinfo=ZoneInfo("America/New_York")), date(2026, 3, 5),
     date(2026, 4, 7)),
])
def test_receipt_near_midnight_uses_the_helsinki_date(instant: datetime, received: date,
                                                      deadline: date) -> None:
    dl = CAL.deadlines(instant)
    assert (dl.received_date, dl.deadline) == (received, deadline)


@pytest.mark.parametrize("instant, received", [
    # Summer time starts Sun 29 Mar 2026 at 01:00 UTC (03:00 → 04:00 local).
    (datetime(2026, 3, 28, 21, 59, tzinfo=UTC), date(2026, 3, 28)),  # 23:59 EET
    (datetime(2026, 3, 28, 22, 0, tzinfo=UTC), date(2026, 3, 29)),   # 00:00 EET
    (datetime(2026, 3, 29, 20, 59, tzinfo=UTC), date(2026, 3, 29)),  # 23:59 EEST
    (datetime(2026, 3, 29, 21, 0, tzinfo=UTC), date(2026, 3, 30)),   # 00:00 EEST
    # Summer time ends Sun 25 Oct 2026 at 01:00 UTC (04:00 → 03:00 local).
    (datetime(2026, 10, 24, 21, 0, tzinfo=UTC), date(2026, 10, 25)),  # 00:00 EEST
    (datetime(2026, 10, 24, 20, 59, tzinfo=UTC), date(2026, 10, 24)),
    (datetime(2026, 10, 25, 21, 30, tzinfo=UTC), date(2026, 10, 25)),  # 23:30 EET
    (datetime(2026, 10, 25, 22, 0, tzinfo=UTC), date(2026, 10, 26)),   # 00:00 EET
])
def test_dst_boundaries(instant: datetime, received: date) -> None:
    assert CAL.local_date(instant) == received
    assert CAL.deadlines(instant).received_date == received


def test_same_instant_in_any_offset_gives_the_same_deadlines() -> None:
    instant = datetime(2026, 10, 24, 21, 30, tzinfo=UTC)
    for hours in (-10, -5, 0, 2, 3, 9, 14):
        assert CAL.deadlines(instant.astimezone(timezone(timedelta(hours=hours)))) == \
            CAL.deadlines(instant)


def test_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        CAL.deadlines(datetime(2026, 3, 5, 12, 0))


def test_other_timezone_is_configurable() -> None:
    stockholm = Calendar(timezone="Europe/Stockholm")
    instant = datetime(2026, 3, 4, 22, 30, tzinfo=UTC)  # 23:30 in Stockholm
    assert stockholm.local_date(instant) == date(2026, 3, 4)
    assert CAL.local_date(instant) == date(2026, 3, 5)


# -- internal target date ----------------------------------------------------------------------
@pytest.mark.parametrize("received, target", [
    (date(2026, 3, 5), date(2026, 3, 27)),    # 7 Apr; back over Easter and Good Friday
    (date(2026, 8, 31), date(2026, 9, 23)),   # 30 Sep (Wed) - 5 working days
    (date(2026, 12, 1), date(2026, 12, 24)),  # 4 Jan 2027; Christmas Eve is a working day
    (date(2026, 11, 24), date(2026, 12, 17)),
])
def test_target_date_five_working_days_before(received: date, target: date) -> None:
    dl = CAL.deadlines(at_noon(received))
    assert dl.target_date == target
    # Exactly five working days lie in [target, deadline).
    days = [dl.target_date + timedelta(n) for n in range((dl.deadline - dl.target_date).days)]
    assert sum(CAL.is_working_day(d) for d in days) == 5
    assert CAL.is_working_day(dl.target_date)


def test_target_days_configurable() -> None:
    dl = CAL.deadlines(at_noon(date(2026, 3, 5)), target_working_days=0)
    assert dl.target_date == dl.deadline
    dl = CAL.deadlines(at_noon(date(2026, 3, 5)), target_working_days=1)
    assert dl.target_date == date(2026, 4, 2)  # Thu before Good Friday


def test_deadline_is_always_a_working_day_and_within_bounds() -> None:
    d = date(2026, 1, 1)
    while d < date(2029, 1, 1):
        dl = CAL.deadlines(at_noon(d))
        assert CAL.is_working_day(dl.deadline), d
        assert add_months(d, 1) <= dl.deadline <= add_months(d, 1) + timedelta(days=5), d
        assert dl.deadline < dl.extended_deadline
        assert dl.target_date < dl.deadline
        d += timedelta(days=1)


# -- `rightsdesk deadline` ---------------------------------------------------------------------
def run(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[str], str]:
    monkeypatch.delenv("RIGHTSDESK_CONFIG", raising=False)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stderr(err):
        rc = cli.main(argv, out=out)
    return rc, out.getvalue().splitlines(), err.getvalue()


def test_deadline_command_json_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    rc, lines, err = run(["deadline", "2026-03-05T10:00:00+02:00", "2026-01-31T12:00:00Z",
                          "2026-08-31T21:30:00Z"], monkeypatch)
    assert (rc, err) == (0, "")
    objs = [json.loads(line) for line in lines]
    assert objs[0] == {"received": "2026-03-05T10:00:00+02:00", "received_date": "2026-03-05",
                       "deadline": "2026-04-07", "extended_deadline": "2026-06-05",
                       "target_date": "2026-03-27"}
    assert (objs[1]["deadline"], objs[1]["extended_deadline"]) == ("2026-03-02", "2026-04-28")
    assert (objs[2]["received_date"], objs[2]["deadline"]) == ("2026-09-01", "2026-10-01")
    for obj in objs:
        for key in ("received_date", "deadline", "extended_deadline"):
            date.fromisoformat(obj[key])


def test_deadline_command_bad_input_gives_error_line_and_exit_1(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rc, lines, _ = run(["deadline", "2026-03-05T10:00:00", "2026-11-24T09:00:00+02:00",
                        "garbage", "", "2026-02-30T10:00:00+02:00",
                        "2026-12-01T08:00:00+02:00"], monkeypatch)
    assert rc == 1
    objs = [json.loads(line) for line in lines]
    assert len(objs) == 6  # one line per input, in order: the good ones are still printed
    assert objs[0]["received"] == "2026-03-05T10:00:00"
    assert "offset" in objs[0]["error"]
    assert "deadline" not in objs[0]
    assert objs[1]["deadline"] == "2026-12-24"
    assert "error" not in objs[1]
    for bad in (objs[2], objs[3], objs[4]):
        assert set(bad) == {"received", "error"}
        assert bad["error"]
    assert objs[5]["deadline"] == "2027-01-04"


def test_deadline_command_reads_config_calendar(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """With a config the [deadlines] table applies (here: the eves count as holidays)."""
    for env in ("RIGHTSDESK_SECRET_KEY", "KESPET_IMAP_PASSWORD", "KESPET_SMTP_PASSWORD"):
        monkeypatch.setenv(env, "x")
    text = (Path(__file__).resolve().parent.parent / "examples/kespet/rightsdesk.toml"
            ).read_text(encoding="utf-8")
    text = text.replace("[staff]", "[deadlines]\nworking_day_holidays = []\n"
                        "target_working_days_before = 2\n\n[staff]", 1)
    cfg = tmp_path / "rightsdesk.toml"
    cfg.write_text(text, encoding="utf-8")
    rc, lines, _ = run(["--config", str(cfg), "deadline", "2026-11-24T09:00:00+02:00"],
                       monkeypatch)
    assert rc == 0
    obj = json.loads(lines[0])
    assert obj["deadline"] == "2026-12-28"
    assert obj["target_date"] == "2026-12-22"  # 24 Dec is a holiday in this reading
