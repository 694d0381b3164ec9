"""Working days (工作日): weekends, statutory holidays and make-up workdays, per entered year."""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .. import clock
from ..audit import system
from ..audit.chain import Acting
from ..clock import SHANGHAI
from ..errors import BianminError
from ..models import CalendarDay, CalendarYear, Deadline
from ..vocabulary import DeadlineStatus, SystemEventKind
from . import statutory

SHIPPED = Path(__file__).parent.parent / "data" / "holidays.toml"


class CalendarRefused(BianminError):
    status = 422


class MissingHolidayData(BianminError):
    """A year neither entered nor within the statutory module's years: no working day can be counted in it."""

    def __init__(self, year: int) -> None:
        super().__init__(
            f"{year} 年的放假安排未录入，且不在可按法定节假日推算的 {statutory.FIRST_YEAR}–{statutory.LAST_YEAR} 年内，"
            f"无法按工作日计算期限；请系统管理员在节假日日历中录入 {year} 年放假安排"
        )
        self.year = year


@dataclass
class WorkCalendar:
    """Entered years as their notices say; any other year provisionally (预计): weekends and statutory days only."""

    years: set[int]
    exceptions: dict[date, bool] = field(default_factory=dict)

    def is_workday(self, day: date) -> bool:
        if day.year in self.years:
            return self.exceptions.get(day, day.weekday() < 5)
        if not statutory.covers(day.year):
            raise MissingHolidayData(day.year)
        return day.weekday() < 5 and day not in statutory.holidays(day.year)

    def add_working_days(self, start: date, days: int) -> date:
        """The date by which `days` working days after `start` have passed (start itself not counted)."""
        current = start
        remaining = days
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_workday(current):
                remaining -= 1
        return current

    def provisional(self, start: date, end: date) -> bool:
        """Whether counting from `start` to `end` crossed a year whose 放假安排 is not entered (预计)."""
        return any(year not in self.years for year in range(start.year, end.year + 1))

    def working_days_in(self, start: date, end: date) -> list[date]:
        """The working days after `start` up to and including `end` (what a pause from one to the other held)."""
        return [day for day in (start + timedelta(days=n) for n in range(1, (end - start).days + 1))
                if self.is_workday(day)]

    def working_days_before(self, end: date, days: int) -> date:
        """The day from which `days` working days remain up to and including `end` (a working day itself)."""
        current = end
        remaining = days
        while True:
            if self.is_workday(current):
                remaining -= 1
                if remaining <= 0:
                    return current
            current -= timedelta(days=1)


def load(session: Session) -> WorkCalendar:
    years = set(session.scalars(select(CalendarYear.year)))
    exceptions = {row.day: row.is_workday for row in session.scalars(select(CalendarDay))}
    return WorkCalendar(years, exceptions)


@dataclass(frozen=True)
class YearEntry:
    """One year of a State Council holiday notice: its source and the days that break the weekly rule."""

    year: int
    source: str
    holidays: dict[date, str]
    workdays: dict[date, str]


def parse_notice(text: str, filename: str) -> list[YearEntry]:
    """Read a holiday file in the shipped format (engine/data/holidays.toml), refusing it whole on any mistake."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarRefused(f"{filename}：不是合法的 TOML 文件（{exc}）") from exc
    problems: list[str] = []
    entries = []
    for key, entry in data.items():
        if not (key.isdigit() and len(key) == 4 and isinstance(entry, dict)):
            problems.append(f"[{key}]：应为四位年份，如 [2027]")
            continue
        year = int(key)
        source = entry.get("source")
        if not isinstance(source, str) or not source.strip():
            problems.append(f"[{year}]：缺少 source（国务院办公厅通知的文号）")
        days: dict[bool, dict[date, str]] = {False: {}, True: {}}
        for is_workday, field_name in ((False, "holidays"), (True, "workdays")):
            for row in entry.get(field_name, []):
                day = _notice_day(row, year)
                if isinstance(day, str):
                    problems.append(f"[{year}] {field_name}：{day}")
                elif day[0] in days[False] or day[0] in days[True]:
                    problems.append(f"[{year}] {field_name}：{day[0].isoformat()} 重复出现")
                else:
                    days[is_workday][day[0]] = day[1]
        entries.append(YearEntry(year, str(source or "").strip(), days[False], days[True]))
    if not entries and not problems:
        problems.append("文件中没有任何年份")
    if problems:
        raise CalendarRefused(f"{filename}：节假日安排有误，未录入任何数据", details=problems)
    return entries


def _notice_day(row: object, year: int) -> tuple[date, str] | str:
    """A ["YYYY-MM-DD", "name"] pair of the given year, or what is wrong with it."""
    if not (isinstance(row, list) and len(row) == 2 and all(isinstance(part, str) for part in row)):
        return f"{row!r} 应写成 [\"YYYY-MM-DD\", \"名称\"]"
    try:
        day = date.fromisoformat(row[0])
    except ValueError:
        return f"“{row[0]}”不是有效日期（应为 YYYY-MM-DD）"
    if day.year != year:
        return f"{row[0]} 不在 {year} 年内"
    if not row[1].strip():
        return f"{row[0]} 缺少名称"
    return day, row[1].strip()


def enter(session: Session, entries: list[YearEntry], *, replace: bool = False, by: Acting | None = None,
          record: bool = True) -> list[int]:
    """Store the years, each recorded on the system chain; a year already entered is refused unless `replace`."""
    known = set(session.scalars(select(CalendarYear.year)))
    clashes = sorted(entry.year for entry in entries if entry.year in known)
    if clashes and not replace:
        years = "、".join(str(year) for year in clashes)
        raise CalendarRefused(f"{years} 年的节假日安排已录入；如需更正，请加 --replace 重新录入")
    for entry in entries:
        before = _as_recorded(session, entry.year) if entry.year in known else None
        if entry.year in known:
            session.execute(delete(CalendarDay).where(
                CalendarDay.day >= date(entry.year, 1, 1), CalendarDay.day <= date(entry.year, 12, 31)))
            session.get(CalendarYear, entry.year).source = entry.source  # type: ignore[union-attr]
        else:
            session.add(CalendarYear(year=entry.year, source=entry.source))
        for is_workday, days in ((False, entry.holidays), (True, entry.workdays)):
            session.add_all(CalendarDay(day=day, is_workday=is_workday, name=name) for day, name in days.items())
        if record:
            after = {"source": entry.source, "holidays": sorted(d.isoformat() for d in entry.holidays),
                     "workdays": sorted(d.isoformat() for d in entry.workdays)}
            system.append(session, SystemEventKind.CALENDAR_LOADED, by, clock.now(), str(entry.year),
                          before=before, after=after)
    session.flush()
    return [entry.year for entry in entries]


def _as_recorded(session: Session, year: int) -> dict[str, object]:
    """A year as entered before it is rewritten: the days it held, so the record shows what changed."""
    row = session.get(CalendarYear, year)
    days = session.execute(select(CalendarDay.day, CalendarDay.is_workday).where(
        CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)).order_by(CalendarDay.day)).all()
    return {"source": row.source if row else "", "holidays": [d.isoformat() for d, work in days if not work],
            "workdays": [d.isoformat() for d, work in days if work]}


@dataclass(frozen=True)
class EnteredYear:
    year: int
    source: str
    holidays: int
    workdays: int


def entered(session: Session) -> list[EnteredYear]:
    """Each year entered, oldest first, with how many days off and make-up workdays its notice lists."""
    counts = Counter((day.year, is_workday) for day, is_workday in session.execute(
        select(CalendarDay.day, CalendarDay.is_workday)))
    return [EnteredYear(row.year, row.source, counts[(row.year, False)], counts[(row.year, True)])
            for row in session.scalars(select(CalendarYear).order_by(CalendarYear.year))]


def provisional_in_use(session: Session) -> dict[int, int]:
    """Years not entered that open deadlines are counted on (预计), with how many deadlines each."""
    known = set(session.scalars(select(CalendarYear.year)))
    per_year: Counter[int] = Counter()
    for started_at, due in session.execute(select(Deadline.started_at, Deadline.due_date).where(
            Deadline.status == DeadlineStatus.OPEN, Deadline.provisional)):
        first = started_at.astimezone(SHANGHAI).year
        per_year.update(year for year in range(first, due.year + 1) if year not in known)
    return dict(sorted(per_year.items()))


def missing_statutory(entry: YearEntry) -> list[str]:
    """Statutory days (办法 §2) a notice does not list as days off: worth a second look before entering it."""
    if not statutory.covers(entry.year):
        return []
    return [f"{day.isoformat()} {name}" for day, name in sorted(statutory.holidays(entry.year).items())
            if day not in entry.holidays]


def install_shipped(session: Session) -> list[int]:
    """Load the shipped holiday file; years already entered are left as the administrator has them."""
    known = set(session.scalars(select(CalendarYear.year)))
    entries = [e for e in parse_notice(SHIPPED.read_text("utf-8"), SHIPPED.name) if e.year not in known]
    # Not recorded: these years come with the release itself (engine/data/holidays.toml, under version control),
    # so the release's version says what they hold; `bianmin init` installs them, no person chose them.
    return enter(session, entries, record=False)
