"""The agreement's calendar: a deadline Y hours after the hand-over, and the hours between two
moments, counting every hour, or only business hours when the agreement sets them.

Business hours are local times on local days in the agreement's time zone (``zoneinfo``), minus
holidays. Each working day becomes one interval in UTC before anything is added or subtracted
(Python subtracts two times of the same zone by their wall clocks, which is an hour off across a
DST change), so a day that loses or gains an hour counts what the clock on the wall showed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from syncd.agreement.model import Agreement, BusinessHours

UTC = dt.UTC
MAX_DAYS = 3 * 366        # no deadline is further than this many days ahead; none is searched longer


@dataclass(frozen=True)
class Calendar:
    zone: ZoneInfo
    business: BusinessHours | None = None
    holidays: frozenset[dt.date] = frozenset()

    @classmethod
    def of(cls, agreement: Agreement) -> Calendar:
        first = agreement.first_contact
        return cls(agreement.zone, first.business_hours, frozenset(first.holidays))

    def _days(self, start: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """The working intervals (UTC) of the local days from ``start``'s local day on."""
        assert self.business is not None
        weekdays, day = self.business.weekdays, start.astimezone(self.zone).date()
        for offset in range(MAX_DAYS):
            date = day + dt.timedelta(days=offset)
            if date.weekday() in weekdays and date not in self.holidays:
                yield (dt.datetime.combine(date, self.business.start, self.zone).astimezone(UTC),
                       dt.datetime.combine(date, self.business.end, self.zone).astimezone(UTC))

    def add_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The moment ``hours`` (business) hours after ``start``."""
        start = start.astimezone(UTC)
        if self.business is None:
            return start + dt.timedelta(hours=hours)
        left = dt.timedelta(hours=hours)
        for opens, closes in self._days(start):
            opens = max(opens, start)
            if closes <= opens:
                continue
            if closes - opens >= left:
                return opens + left
            left -= closes - opens
        raise ValueError(f"no {hours} business hours within {MAX_DAYS} days of {start.isoformat()}")

    def hours_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """(Business) hours from ``start`` to ``end``; 0 when ``end`` is not after ``start``."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return 0.0
        if self.business is None:
            return (end - start).total_seconds() / 3600
        total = dt.timedelta()
        for opens, closes in self._days(start):
            if opens >= end:
                break
            opens, closes = max(opens, start), min(closes, end)
            if closes > opens:
                total += closes - opens
        return total.total_seconds() / 3600


def month_bounds(month: str, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The first moment of ``month`` ("2026-11") and of the next one, in ``zone``, as UTC."""
    year, number = (int(part) for part in month.split("-"))
    start = dt.datetime(year, number, 1, tzinfo=zone)
    following = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), following.astimezone(UTC)


def month_of(moment: dt.datetime, zone: ZoneInfo) -> str:
    """The month ("2026-12") ``moment`` falls in, in ``zone``."""
    return moment.astimezone(zone).strftime("%Y-%m")
