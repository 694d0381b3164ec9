"""好差评 and 投诉: one rating per completed case, complaints on any case, and the follow-ups they open.

A rating of 不满意 or 非常不满意 (差评), and every complaint, opens a follow-up (整改/回访) for the supervisors of the
case's county, due a set number of working days later (settings.followup_days, see engine/config.py for its source).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, case, func, select
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain, privacy
from ..cases.context import Runtime
from ..cases.locking import actor as load_actor
from ..cases.locking import lock_case
from ..deadlines import calendar, clocks, extensions, promised
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..models import Case, Complaint, FollowUp, OrgUnit, Rating, ServiceItem, User
from ..notifications import notify
from ..people import access
from ..vocabulary import CaseStatus, Channel, EventKind, FollowUpStatus, RatingLevel

# 差评: the two levels a follow-up must answer (国办发〔2019〕51号: 差评 are verified, rectified and answered).
POOR = (RatingLevel.DISSATISFIED, RatingLevel.VERY_DISSATISFIED)
SATISFIED = (RatingLevel.VERY_SATISFIED, RatingLevel.SATISFIED, RatingLevel.FAIRLY_SATISFIED)
NOTIFICATION_KIND = "follow_up"
LIST_LIMIT = 500


@dataclass(frozen=True)
class PublicApplicant:
    """The applicant acting on the public query page: no account, named so in the case history."""

    id: int | None = None
    display_name: str = "申请人（公开查询页）"


APPLICANT = PublicApplicant()


def _level(value: Any) -> RatingLevel:
    try:
        return RatingLevel(str(value or ""))
    except ValueError:
        message = "请选择评价：" + "、".join(RatingLevel)
        raise ValidationFailed(message, fields={"level": [message]}) from None


def _recorder(session: Session, actor_id: int | None, case: Case) -> Any:
    """The clerk writing it down at the window (checked), or the applicant on the public page."""
    if actor_id is None:
        return APPLICANT
    actor = load_actor(session, actor_id)
    if not access.may_record_for_applicant(actor, privacy.handles(session, actor, case.id), case):
        if not access.may_see_case(actor, case):
            raise NotFound("办件不存在")
        raise Forbidden("只有办理该办件的人员或本辖区的受理窗口可以代申请人登记评价或投诉")
    return actor


def _open_follow_up(rt_days: int, session: Session, case: Case, now: datetime, *, rating: Rating | None = None,
                    complaint: Complaint | None = None) -> FollowUp:
    work_calendar = calendar.load(session)
    due, _ = promised.due_after(work_calendar, now, rt_days)
    yellow = None
    if due is not None:
        try:
            yellow = work_calendar.working_days_before(due, clocks.warning_days(rt_days, {}))
        except calendar.MissingHolidayData:
            yellow = due
    row = FollowUp(case_id=case.id, county_id=case.county_id, rating_id=rating.id if rating else None,
                   complaint_id=complaint.id if complaint else None, opened_at=now, limit_days=rt_days,
                   due_date=due, yellow_from=yellow, status=FollowUpStatus.OPEN)
    session.add(row)
    session.flush()
    what = f"差评（{rating.level}）" if rating else "投诉"
    supervisors = session.scalars(select(User.id).where(User.role_code == access.SUPERVISOR_ROLE,
                                                        User.org_id == case.county_id, User.active.is_(True)))
    notify(session, list(supervisors), f"follow_up:{row.id}", NOTIFICATION_KIND,
           f"{what}待整改回访：{case.case_number}", now, case_id=case.id,
           body=f"请于 {due.isoformat() if due else '（期限无法计算）'} 前答复")
    return row


def rate(rt: Runtime, followup_days: int, actor_id: int | None, case_id: int, level: Any, comment: Any) -> Rating:
    """The applicant's one rating of a completed case; 差评 opens a follow-up. `actor_id` None: the public page."""
    chosen, text = _level(level), extensions.written_text(comment, "comment", "评价意见", required=False) or None
    with rt.db.write() as session:
        case = lock_case(session, case_id)
        recorder = _recorder(session, actor_id, case)
        if case.status != CaseStatus.COMPLETED:
            raise Conflict("办件办结后才能评价")
        earlier = session.scalar(select(Rating).where(Rating.case_id == case.id))
        if earlier is not None:
            raise Conflict(f"该办件已于 {_local(earlier.at)} 评价为“{earlier.level}”，每件只能评价一次")
        now = clock.now()
        channel = Channel.PUBLIC if actor_id is None else Channel.WINDOW
        row = Rating(case_id=case.id, level=chosen, comment=text, channel=channel,
                     recorded_by_id=actor_id, at=now)
        session.add(row)
        session.flush()
        follow_up = _open_follow_up(followup_days, session, case, now, rating=row) if chosen in POOR else None
        chain.append(session, case, EventKind.CASE_RATED, recorder, now, after={
            "level": chosen.value, "comment": text, "channel": channel.value,
            "follow_up_due": follow_up.due_date.isoformat() if follow_up and follow_up.due_date else None})
        session.expunge(row)
        return row


def complain(rt: Runtime, followup_days: int, actor_id: int | None, case_id: int, text: Any) -> Complaint:
    """A complaint about any case; it always opens a follow-up for the county's supervisors."""
    body = extensions.written_text(text, "text", "投诉内容")
    with rt.db.write() as session:
        case = lock_case(session, case_id)
        recorder = _recorder(session, actor_id, case)
        now = clock.now()
        channel = Channel.PUBLIC if actor_id is None else Channel.WINDOW
        row = Complaint(case_id=case.id, text=body, channel=channel, recorded_by_id=actor_id, at=now)
        session.add(row)
        session.flush()
        follow_up = _open_follow_up(followup_days, session, case, now, complaint=row)
        chain.append(session, case, EventKind.COMPLAINT_FILED, recorder, now, after={
            "complaint": body, "channel": channel.value,
            "follow_up_due": follow_up.due_date.isoformat() if follow_up.due_date else None})
        session.expunge(row)
        return row


def answer(rt: Runtime, actor_id: int, follow_up_id: int, text: Any) -> FollowUp:
    """The supervisors' answer (what was verified, rectified, told to the applicant); recorded once."""
    body = extensions.written_text(text, "answer", "整改回访情况")
    with rt.db.write() as session:
        actor = load_actor(session, actor_id)
        case_id = session.scalar(select(FollowUp.case_id).where(FollowUp.id == follow_up_id))
        if case_id is None:
            raise NotFound("整改回访不存在")
        case = lock_case(session, case_id)
        if not access.may_answer_follow_up(actor, case):
            raise Forbidden("只有本辖区的电子监察人员可以答复整改回访")
        row = session.get(FollowUp, follow_up_id, populate_existing=True)
        assert row is not None
        if row.status == FollowUpStatus.ANSWERED:
            who = session.get(User, row.answered_by_id)
            raise Conflict(f"该整改回访已由{who.display_name if who else ''}于 "
                           f"{_local(row.answered_at)} 答复")
        now = clock.now()
        row.status, row.answer, row.answered_by_id, row.answered_at = FollowUpStatus.ANSWERED, body, actor.id, now
        chain.append(session, case, EventKind.FOLLOW_UP_ANSWERED, actor, now, after={
            "follow_up": row.id, "answer": body,
            "late": answered_late(row)})
        session.flush()
        session.expunge(row)
        return row


def _local(moment: datetime | None) -> str:
    return f"{moment.astimezone(clock.SHANGHAI):%Y-%m-%d %H:%M}" if moment else ""


# -- reading ------------------------------------------------------------------------------------------


def card(row: FollowUp, today: date | None = None) -> str:
    """yellow/red by its due date, exactly as a deadline's card (engine.deadlines.clocks.card_on)."""
    return clocks.card_on(row, today or clock.local_now().date())


def answered_late(row: FollowUp) -> bool:
    """Answered after its due date (Shanghai days), as the history's `late` records it."""
    return bool(row.answered_at and row.due_date
                and row.answered_at.astimezone(clock.SHANGHAI).date() > row.due_date)


def rating_of(session: Session, case_id: int) -> Rating | None:
    return session.scalar(select(Rating).where(Rating.case_id == case_id))


def complaints_of(session: Session, case_id: int) -> Sequence[Complaint]:
    return session.scalars(select(Complaint).where(Complaint.case_id == case_id).order_by(Complaint.at)).all()


def follow_ups_of(session: Session, case_id: int) -> Sequence[FollowUp]:
    return session.scalars(select(FollowUp).where(FollowUp.case_id == case_id).order_by(FollowUp.opened_at)).all()


def follow_ups(session: Session, user: access.Placed, status: str = FollowUpStatus.OPEN,
               limit: int = LIST_LIMIT) -> Sequence[FollowUp]:
    """The follow-ups of the user's jurisdiction: open ones by due date (most urgent first), answered newest first."""
    statement = select(FollowUp).join(Case, Case.id == FollowUp.case_id).where(
        access.case_visible_to(user), FollowUp.status == status)
    order = (FollowUp.due_date, FollowUp.id) if status == FollowUpStatus.OPEN else (FollowUp.answered_at.desc(),)
    return session.scalars(statement.order_by(*order).limit(limit)).all()


# -- the supervision desk's rating figures ---------------------------------------------------------------

GROUPS = ("window", "person")
_STARTER, _WINDOW = User.__table__.alias("starter"), OrgUnit.__table__.alias("window_org")
SATISFIED_COUNT = func.sum(case((Rating.level.in_(SATISFIED), 1), else_=0))


@dataclass(frozen=True)
class Satisfaction:
    """Ratings of one window or one person: the count per level and the share rated 基本满意 or better."""

    label: str
    levels: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.levels.values())

    @property
    def rate(self) -> float | None:
        satisfied = sum(self.levels[level] for level in SATISFIED)
        return satisfied / self.total if self.total else None


def satisfaction(session: Session, user: access.Placed, start: datetime, end_before: datetime,
                 by: str) -> list[Satisfaction]:
    """Ratings given in [start, end_before) on cases of the user's jurisdiction, per accepting window or person.

    The window is the org unit whose post accepted the case (a village agent's station, a town window); the person
    is who accepted it: 首问负责, they answer for the service the applicant rated.
    """
    key = (_WINDOW.c.id, _WINDOW.c.name) if by == "window" else (_STARTER.c.id, _STARTER.c.display_name)
    rows: Sequence[Row[Any]] = session.execute(
        select(key[0].label("key"), key[1].label("label"), Rating.level, func.count().label("n"))
        .select_from(Rating.__table__.join(Case, Case.id == Rating.case_id)
                     .join(_STARTER, _STARTER.c.id == Case.started_by_id)
                     .join(_WINDOW, _WINDOW.c.id == _STARTER.c.org_id))
        .where(access.case_visible_to(user), and_(Rating.at >= start, Rating.at < end_before))
        .group_by(key[0], key[1], Rating.level)).all()
    lines: dict[Any, Satisfaction] = {}
    for row in rows:
        line = lines.setdefault(row.key, Satisfaction(row.label, dict.fromkeys(RatingLevel, 0)))
        line.levels[row.level] = int(row.n)
    return sorted(lines.values(), key=lambda line: (line.rate if line.rate is not None else 1, line.label))


def totals(lines: Sequence[Satisfaction]) -> Satisfaction:
    return Satisfaction("合计", {level: sum(line.levels[level] for line in lines) for level in RatingLevel})


def item_names(session: Session, rows: Sequence[FollowUp]) -> dict[str, str]:
    codes = {row.case.item_code for row in rows}
    return dict(session.execute(select(ServiceItem.code, ServiceItem.name).where(ServiceItem.code.in_(codes))).all())
