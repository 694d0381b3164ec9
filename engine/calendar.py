"""Working days (工作日): weekends, statutory holidays and make-up workdays, per entered year."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import BianminError
from .models import CalendarDay, CalendarYear

SHIPPED = Path(__file__).parent / "data" / "holidays.toml"


class MissingHolidayData(BianminError):
    def __init__(self, year: int) -> None:
        super().__init__(
            f"{year} 年的法定节假日安排尚未录入，无法按工作日计算期限；请系统管理员在节假日日历中补录 {year} 年数据"
        )
        self.year = year


@dataclass
class WorkCalendar:
    years: set[int]
    exceptions: dict[date, bool] = field(default_factory=dict)

    def is_workday(self, day: date) -> bool:
        if day.year not in self.years:
            raise MissingHolidayData(day.year)
        return self.exceptions.get(day, day.weekday() < 5)

    def add_working_days(self, start: date, days: int) -> date:
        """The date by which `days` working days after `start` have passed (start itself not counted)."""
        current = start
        remaining = days
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_workday(current):
                remaining -= 1
        return current


def load(session: Session) -> WorkCalendar:
    years = set(session.scalars(select(CalendarYear.year)))
    exceptions = {row.day: row.is_workday for row in session.scalars(select(CalendarDay))}
    return WorkCalendar(years, exceptions)


def install_shipped(session: Session) -> list[int]:
    """Load the shipped holiday file; years already entered are left as the administrator has them."""
    data = tomllib.loads(SHIPPED.read_text("utf-8"))
    known = set(session.scalars(select(CalendarYear.year)))
    added = []
    for year_text, entry in data.items():
        year = int(year_text)
        if year in known:
            continue
        session.add(CalendarYear(year=year, source=entry["source"]))
        for is_workday, rows in ((False, entry["holidays"]), (True, entry["workdays"])):
            for day_text, name in rows:
                session.add(CalendarDay(day=date.fromisoformat(day_text), is_workday=is_workday, name=name))
        added.append(year)
    return added
