"""The supervision desk's figures: deadlines counted by town, department, item and handler, the carded list, and
the chases (催办) per post and handler.

Everything is one aggregate query per dimension in the database (no row-by-row Python), over the deadlines of
the asker's jurisdiction (`access.case_visible_to`). A deadline belongs to a period when it was running at some
moment of it: started before the period's end and still open, or finished on or after its start. Open, yellow
and red are what the deadline shows now; completed late (逾期办结) counts those finished late within the period.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from .. import clock
from ..deadlines.clocks import day_start
from ..errors import ValidationFailed
from ..models import Case, Chase, Deadline, OrgUnit, ProcedureVersion, Role, ServiceItem, Task, User
from ..people.access import Placed, case_visible_to, towns_visible_to
from ..vocabulary import CardColor, DeadlineStatus, TaskStatus

PRESETS = ("this_month", "last_month", "this_year", "range")
CARDS = ("", CardColor.YELLOW.value, CardColor.RED.value)
DIMENSIONS = ("town", "department", "item", "handler")
MEASURES = ("open", "yellow", "red", "late")
KINDS = ("case", "step")
LIST_LIMIT = 500
# A period longer than this is a mistake in a date, not a question a desk answers quickly.
MAX_PERIOD_DAYS = 3660


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    preset: str

    @property
    def start_at(self) -> datetime:
        return day_start(self.start)

    @property
    def end_before(self) -> datetime:
        return day_start(self.end + timedelta(days=1))


@dataclass(frozen=True)
class Filters:
    period: Period
    town_id: int | None = None
    item_code: str | None = None
    card: str = ""

    def query(self) -> dict[str, str]:
        """The filters as query arguments, so a page's export link carries exactly what the page shows."""
        args = {"period": self.period.preset}
        if self.period.preset == "range":
            args |= {"from": self.period.start.isoformat(), "to": self.period.end.isoformat()}
        if self.town_id is not None:
            args["town"] = str(self.town_id)
        if self.item_code:
            args["item"] = self.item_code
        if self.card:
            args["card"] = self.card
        return args


def _month_start(day: date) -> date:
    return day.replace(day=1)


def period(preset: str, start: str = "", end: str = "", today: date | None = None) -> Period:
    """A named period (this month by default), or from–to dates (YYYY-MM-DD, both days included)."""
    today = today or clock.local_now().date()
    if preset in ("", "this_month"):
        return Period(_month_start(today), today, "this_month")
    if preset == "last_month":
        last = _month_start(today) - timedelta(days=1)
        return Period(_month_start(last), last, "last_month")
    if preset == "this_year":
        return Period(date(today.year, 1, 1), today, "this_year")
    if preset != "range":
        raise ValidationFailed("统计期间应为本月、上月、本年或自定义起止日期", fields={"period": ["统计期间无效"]})
    try:
        first, last = date.fromisoformat(start.strip()), date.fromisoformat(end.strip())
    except ValueError:
        message = "起止日期应为 YYYY-MM-DD 格式的日期"
        raise ValidationFailed(message, fields={"from": [message]}) from None
    if last < first:
        raise ValidationFailed("结束日期不能早于开始日期", fields={"to": ["结束日期不能早于开始日期"]})
    if (last - first).days > MAX_PERIOD_DAYS:
        raise ValidationFailed("统计期间不能超过 10 年", fields={"to": ["统计期间不能超过 10 年"]})
    return Period(first, last, "range")


def filters(args: Mapping[str, str], today: date | None = None) -> Filters:
    """The desk's filters as a query string gives them (`period`, `from`, `to`, `town`, `item`, `card`)."""
    chosen = period(args.get("period", ""), args.get("from", ""), args.get("to", ""), today)
    town = args.get("town", "").strip()
    if town and not (town.isdigit() and len(town) <= 9):
        raise ValidationFailed("乡镇参数无效", fields={"town": ["乡镇参数无效"]})
    card = args.get("card", "").strip()
    if card not in CARDS:
        raise ValidationFailed("牌色应为 yellow（黄牌）或 red（红牌）", fields={"card": ["牌色无效"]})
    return Filters(chosen, int(town) if town else None, args.get("item", "").strip() or None, card)


# -- the deadlines in view ---------------------------------------------------------------------------

_TOWN, _VILLAGE, _STEP_ORG = OrgUnit.__table__.alias("town"), OrgUnit.__table__.alias("village"), \
    OrgUnit.__table__.alias("step_org")
_HANDLER = User.__table__.alias("handler")
_SCOPE = (
    Deadline.__table__.join(Case, Case.id == Deadline.case_id)
    .join(ServiceItem, ServiceItem.code == Case.item_code)
    .join(ProcedureVersion, ProcedureVersion.id == Case.version_id)
    .join(_TOWN, _TOWN.c.id == Case.town_id)
    .outerjoin(Task, Task.id == Deadline.task_id).outerjoin(Role, Role.code == Task.role_code)
    .outerjoin(_STEP_ORG, _STEP_ORG.c.id == Task.org_id)
    # Who has (or had) the step: its finisher once done, else whoever claimed it; unclaimed has none.
    .outerjoin(_HANDLER, _HANDLER.c.id == func.coalesce(Task.completed_by_id, Task.assignee_id))
)
IS_OPEN = Deadline.status == DeadlineStatus.OPEN
KIND = case((Deadline.task_id.is_(None), literal("case")), else_=literal("step"))
# A case clock answers to the item's department; a step to the post it sits with.
DEPARTMENT = case((Deadline.task_id.is_(None), func.coalesce(ProcedureVersion.guide["department"].as_string(),
                                                             ServiceItem.name)), else_=Role.name)


def _where(user: Placed, chosen: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        case_visible_to(user), Deadline.status != DeadlineStatus.CANCELLED,
        Deadline.started_at < chosen.period.end_before,
        or_(IS_OPEN, Deadline.finished_at >= chosen.period.start_at),
    ]
    if chosen.town_id is not None:
        conditions.append(Case.town_id == chosen.town_id)
    if chosen.item_code:
        conditions.append(Case.item_code == chosen.item_code)
    return conditions


def _measures(chosen: Filters) -> list[Any]:
    late = and_(Deadline.status == DeadlineStatus.FINISHED, Deadline.late.is_(True),
                Deadline.finished_at >= chosen.period.start_at, Deadline.finished_at < chosen.period.end_before)
    return [func.sum(case((condition, 1), else_=0)).label(name) for name, condition in (
        ("open", IS_OPEN), ("yellow", and_(IS_OPEN, Deadline.card == CardColor.YELLOW)),
        ("red", and_(IS_OPEN, Deadline.card == CardColor.RED)), ("late", late))]


_KEYS: dict[str, tuple[Any, Any]] = {
    "town": (Case.town_id, _TOWN.c.name),
    "department": (DEPARTMENT, DEPARTMENT),
    "item": (Case.item_code, ServiceItem.name),
    "handler": (_HANDLER.c.id, _HANDLER.c.display_name),
}


@dataclass
class Line:
    """One row of a count table: a town, department, item or handler, with each kind's four counts."""

    key: Any
    label: str
    counts: dict[str, dict[str, int]] = field(default_factory=lambda: {k: dict.fromkeys(MEASURES, 0) for k in KINDS})

    @property
    def overdue(self) -> int:
        """Red now plus completed late, steps and case clocks together: a handler's overdue count."""
        return sum(self.counts[k]["red"] + self.counts[k]["late"] for k in KINDS)


def counts(session: Session, user: Placed, chosen: Filters, dimension: str) -> list[Line]:
    """Counts per town, department, item or handler; handlers only have steps (a case clock has no one holder)."""
    key, label = _KEYS[dimension]
    statement = select(key.label("key"), label.label("label"), KIND.label("kind"), *_measures(chosen)) \
        .select_from(_SCOPE).where(*_where(user, chosen)).group_by(key, label, KIND)
    if dimension == "handler":
        statement = statement.where(Deadline.task_id.is_not(None))
    lines: dict[Any, Line] = {}
    for row in session.execute(statement):
        line = lines.setdefault(row.key, Line(row.key, row.label or ""))
        line.counts[row.kind] = {name: int(getattr(row, name) or 0) for name in MEASURES}
    return sorted(lines.values(), key=lambda line: (-line.overdue, -sum(line.counts[k]["yellow"] for k in KINDS),
                                                    line.label))


def every_town(lines: list[Line], towns: Sequence[Row[Any]]) -> list[Line]:
    """The town counts with a zero line for each town of the jurisdiction that had nothing: quiet towns show too."""
    seen = {line.key for line in lines}
    return lines + [Line(town.id, town.name) for town in towns if town.id not in seen]


def totals(lines: Sequence[Line]) -> dict[str, dict[str, int]]:
    """All towns together: every deadline is in exactly one town."""
    return {kind: {name: sum(line.counts[kind][name] for line in lines) for name in MEASURES} for kind in KINDS}


# -- the carded list --------------------------------------------------------------------------------

CARDED = select(
    Deadline.id, Deadline.name, KIND.label("kind"), Deadline.card, Deadline.due_date, Deadline.provisional,
    Case.id.label("case_id"), Case.case_number, ServiceItem.name.label("item_name"), _TOWN.c.name.label("town_name"),
    Task.id.label("task_id"), Role.name.label("role_name"), _STEP_ORG.c.name.label("step_org_name"),
    _HANDLER.c.display_name.label("handler_name"),
).select_from(_SCOPE)
RED_FIRST = case((Deadline.card == CardColor.RED, 0), else_=1)
_HOLDERS = select(
    Task.case_id, Role.name.label("role_name"), _STEP_ORG.c.name.label("org_name"),
    _HANDLER.c.display_name.label("handler_name"),
).select_from(Task.__table__.join(Role, Role.code == Task.role_code).join(_STEP_ORG, _STEP_ORG.c.id == Task.org_id)
              .outerjoin(_HANDLER, _HANDLER.c.id == Task.assignee_id))


@dataclass(frozen=True)
class Holder:
    name: str  # empty while the post has not claimed it
    post: str


@dataclass(frozen=True)
class Carded:
    """A yellow or red deadline as the desk lists it."""

    row: Row[Any]
    holders: list[Holder]
    days_overdue: int


def carded(session: Session, user: Placed, chosen: Filters, limit: int = LIST_LIMIT) -> list[Carded]:
    """Open deadlines showing a card (or the chosen colour), red first, longest overdue first, with who holds them.

    A step is held by its post (and its claimer); a case clock by whoever holds the case's open steps.
    """
    colours = [chosen.card] if chosen.card else [CardColor.RED.value, CardColor.YELLOW.value]
    rows = session.execute(CARDED.where(*_where(user, chosen), IS_OPEN, Deadline.card.in_(colours))
                           .order_by(RED_FIRST, Deadline.due_date, Deadline.id).limit(limit)).all()
    clocks = sorted({row.case_id for row in rows if row.task_id is None})
    held: dict[int, list[Holder]] = {}
    if clocks:
        for holder in session.execute(_HOLDERS.where(Task.case_id.in_(clocks), Task.status == TaskStatus.OPEN)
                                      .order_by(Task.created_at)):
            held.setdefault(holder.case_id, []).append(Holder(holder.handler_name or "",
                                                              f"{holder.org_name} {holder.role_name}"))
    today = clock.local_now().date()
    return [Carded(row, held.get(row.case_id, []) if row.task_id is None else
                   [Holder(row.handler_name or "", f"{row.step_org_name} {row.role_name}")],
                   max((today - row.due_date).days, 0) if row.due_date else 0) for row in rows]


# -- 催办 --------------------------------------------------------------------------------------------

_CHASED_ORG, _CHASED = OrgUnit.__table__.alias("chased_org"), User.__table__.alias("chased")
CHASES = select(
    Chase.role_code, Chase.org_id, Role.name.label("role_name"), _CHASED_ORG.c.name.label("org_name"),
    Chase.handler_id, _CHASED.c.display_name.label("handler_name"), func.count().label("chases"),
    func.count(func.distinct(Chase.task_id)).label("tasks"),
).select_from(
    Chase.__table__.join(Case, Case.id == Chase.case_id).join(Role, Role.code == Chase.role_code)
    .join(_CHASED_ORG, _CHASED_ORG.c.id == Chase.org_id).outerjoin(_CHASED, _CHASED.c.id == Chase.handler_id)
).group_by(Chase.role_code, Chase.org_id, Role.name, _CHASED_ORG.c.name, Chase.handler_id, _CHASED.c.display_name)


def chases(session: Session, user: Placed, chosen: Filters) -> Sequence[Row[Any]]:
    """催办次数 in the period per post and handler (none: chased while the post had not claimed it), most first."""
    conditions = [case_visible_to(user), Chase.chased_at >= chosen.period.start_at,
                  Chase.chased_at < chosen.period.end_before]
    if chosen.town_id is not None:
        conditions.append(Case.town_id == chosen.town_id)
    if chosen.item_code:
        conditions.append(Case.item_code == chosen.item_code)
    return session.execute(CHASES.where(*conditions).order_by(
        func.count().desc(), _CHASED_ORG.c.name, Role.name, _CHASED.c.display_name)).all()


# -- what the filters offer -------------------------------------------------------------------------

def towns(session: Session, user: Placed) -> Sequence[Row[Any]]:
    """The towns of the user's jurisdiction, for the town filter."""
    return session.execute(select(OrgUnit.id, OrgUnit.name).where(towns_visible_to(user)).order_by(OrgUnit.code)).all()


def items(session: Session) -> Sequence[Row[Any]]:
    return session.execute(select(ServiceItem.code, ServiceItem.name).order_by(ServiceItem.code)).all()
