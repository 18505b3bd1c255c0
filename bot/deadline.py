"""Statutory deadlines: GDPR Art. 12(3) computed by Council Regulation (EEC, Euratom) 1182/71.

Rules and worked examples: shared/domain.md §1.  Where sources differ we take the earlier date.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

DEFAULT_WORKING_EVES = ("Christmas Eve", "Midsummer Eve")


@dataclass(frozen=True, slots=True)
class Deadlines:
    received_date: date
    deadline: date
    extended_deadline: date
    target_date: date


class Calendar:
    """Working days of one country, with named holidays that still count as working days."""

    def __init__(
        self,
        country: str = "FI",
        working_day_holidays: Iterable[str] = DEFAULT_WORKING_EVES,
        timezone: str = "Europe/Helsinki",
    ) -> None:
        self.country = country
        self.working_names = frozenset(working_day_holidays)
        self.tz = ZoneInfo(timezone)

    @lru_cache(maxsize=64)  # noqa: B019 - a handful of calendars live for the whole process
    def _holidays(self, year: int) -> frozenset[date]:
        # domain.md §1: the `holidays` package, category public, English names so that the
        # configured exceptions ("Christmas Eve", "Midsummer Eve") match in every locale.
        h = holidays.country_holidays(
            self.country, years=year, categories=("public",), language="en_US"
        )
        return frozenset(
            d
            for d, names in h.items()
            if not all(n.strip() in self.working_names for n in names.split(";"))
        )

    def is_working_day(self, d: date) -> bool:
        return d.weekday() < 5 and d not in self._holidays(d.year)

    def roll_forward(self, d: date) -> date:
        """1182/71 Art. 3(4): a period ending on a Sat, Sun or holiday ends the next working day."""
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def working_days_before(self, d: date, n: int) -> date:
        while n > 0:
            d -= timedelta(days=1)
            if self.is_working_day(d):
                n -= 1
        return d

    def local_date(self, instant: datetime) -> date:
        """Receipt date: the server's INTERNALDATE as a date in the company's timezone."""
        if instant.tzinfo is None:
            raise ValueError("instant needs a UTC offset")
        return instant.astimezone(self.tz).date()

    def deadlines(self, received: datetime, target_working_days: int = 5) -> Deadlines:
        rd = self.local_date(received)
        # 1182/71 Art. 3(1) (day of receipt not counted) and 3(2)(c) (same date next month, or
        # that month's last day): the unrolled end of one month.
        one_month = add_months(rd, 1)
        deadline = self.roll_forward(one_month)
        # Art. 12(3) extension by two further months: the earlier of receipt + 3 months and the
        # unrolled 1-month end + 2 months, then rolled forward (domain.md §1).
        extended = self.roll_forward(min(add_months(rd, 3), add_months(one_month, 2)))
        target = self.working_days_before(deadline, target_working_days)
        return Deadlines(rd, deadline, extended, target)


def add_months(d: date, months: int) -> date:
    """Same day ``months`` later, or the last day of that month when it does not exist."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))
