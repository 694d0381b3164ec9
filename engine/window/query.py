"""The public case query (办件查询): a case number and the ID number's last four characters give the case's progress
and nothing personal; each address that keeps guessing is made to wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..db import Database
from ..errors import NotFound, ValidationFailed
from ..models import Case, QueryAttempt, ServiceItem, Task, Timer
from ..people.signin import ADDRESS, MAX_ADDRESS_LENGTH
from ..throttle import TooManyAttempts
from ..vocabulary import TaskStatus, TimerStatus

# The same words for an unknown number and a wrong pair: the answer must not tell which case numbers exist.
NOT_FOUND = "未查询到办件：请核对办件编号和身份证号码后四位"
TAIL_LENGTH = 4
MAX_NUMBER_LENGTH = 40


@dataclass(frozen=True)
class Progress:
    """What a citizen may read about a case without signing in: no name, ID, phone, village or form data."""

    case_number: str
    item_name: str
    status: str
    result: str | None
    current_steps: list[str]
    accepted_on: date | None
    promised_date: date | None
    promised_provisional: bool
    completed_on: date | None


def find(db: Database, case_number: str, id_tail: str, address: str | None) -> Progress:
    """The case's progress for the citizen who named it (see `identify`)."""
    case_id = identify(db, case_number, id_tail, address)
    with db.read() as session:
        return _progress(session, session.get_one(Case, case_id))


def identify(db: Database, case_number: str, id_tail: str, address: str | None) -> int:
    """The case a citizen names by its number and the ID number's last four characters; TooManyAttempts while the
    address waits, NotFound for any pair that does not match.

    Only failures count: a citizen may look at their own case as often as they like. The address rule is the
    login page's: a village's citizens, like a town office's staff, may share one address. The public rating and
    complaint forms name their case the same way, under the same limit.
    """
    number, tail = case_number.strip().upper(), id_tail.strip().upper()
    if not number or len(number) > MAX_NUMBER_LENGTH or len(tail) != TAIL_LENGTH:
        raise ValidationFailed("请填写办件编号和身份证号码后四位", fields={
            **({} if number and len(number) <= MAX_NUMBER_LENGTH else {"case_number": ["请填写办件编号"]}),
            **({} if len(tail) == TAIL_LENGTH else {"id_tail": ["请填写身份证号码后四位"]})})
    where = (address or "unknown")[:MAX_ADDRESS_LENGTH]
    now = clock.now()
    # Stored as a failure before the lookup, as the login page does, so queries sent in parallel count against
    # each other; a match then marks it.
    with db.write() as session:
        refusal = _refusal(session, where, now)
        attempt = QueryAttempt(address=where, at=now, matched=False, throttled=refusal is not None)
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id
    if refusal is not None:
        raise refusal
    with db.write() as session:
        found = session.execute(select(Case.id, Case.applicant_id_number).where(Case.case_number == number)).first()
        if found is not None and found.applicant_id_number[-TAIL_LENGTH:].upper() == tail:
            session.execute(update(QueryAttempt).where(QueryAttempt.id == attempt_id).values(matched=True))
            return int(found.id)
    raise NotFound(NOT_FOUND)


def _refusal(session: Session, address: str, now: datetime) -> TooManyAttempts | None:
    failures, last_failure = session.execute(select(func.count(), func.max(QueryAttempt.at)).where(
        QueryAttempt.address == address, QueryAttempt.at > now - ADDRESS.window,
        QueryAttempt.matched.is_(False), QueryAttempt.throttled.is_(False))).one()
    return ADDRESS.refusal(failures, last_failure, now,
                           locked="查询失败次数过多，本机地址已暂时不能查询，请 {minutes} 分钟后再试",
                           waiting="查询失败次数较多，请 {seconds} 秒后再试")


def _progress(session: Session, case: Case) -> Progress:
    steps = list(session.scalars(select(Task.name).where(Task.case_id == case.id, Task.status == TaskStatus.OPEN)
                                 .order_by(Task.created_at)))
    steps += session.scalars(select(Timer.name).where(Timer.case_id == case.id, Timer.status == TimerStatus.WAITING)
                             .order_by(Timer.due_at))
    item_name = session.scalar(select(ServiceItem.name).where(ServiceItem.code == case.item_code)) or case.item_code
    return Progress(
        case_number=case.case_number, item_name=item_name, status=case.status, result=case.result,
        current_steps=steps, accepted_on=_day(case.clock_started_at), promised_date=case.promised_date,
        promised_provisional=case.promised_provisional, completed_on=_day(case.completed_at))


def _day(moment: datetime | None) -> date | None:
    return moment.astimezone(clock.SHANGHAI).date() if moment is not None else None
