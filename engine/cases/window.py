"""A case waiting at the window (补正 or 收件待审) examined again: accepted, told to 补正 once, or refused."""

from __future__ import annotations

from sqlalchemy import select, update

from .. import clock
from ..errors import Conflict, Forbidden, NotFound
from ..models import CaseIntake
from ..people import access
from ..vocabulary import AT_WINDOW, CaseStatus, EventKind
from . import checklist, intake, locking, outcomes
from .context import Runtime
from .outcomes import Outcome, Window
from .reconcile import Step


def examine(rt: Runtime, actor_id: int, case_id: int, window: Window) -> Step:
    """The applicant came back (补正) or the clerk examines what was taken in (收件待审); the same case continues."""
    with rt.db.write() as session:
        actor = locking.actor(session, actor_id)
        case = locking.lock_case(session, case_id)
        if not access.may_see_case(actor, case):
            raise NotFound("办件不存在")
        if not access.may_accept(actor):
            raise Forbidden("只有村代办员和便民服务中心窗口人员可以受理申请")
        if case.status not in AT_WINDOW:
            raise Conflict(f"办件{case.case_number}不在待补正或收件待审状态，无需再次受理")
        intake_row = session.scalar(select(CaseIntake).where(CaseIntake.case_id == case.id))
        if intake_row is None:
            raise NotFound("办件的收件记录不存在")
        version = rt.versions.get(session, case.version_id)
        rows = checklist.parse(version.guide, window.materials)
        if window.outcome == Outcome.RECEIVE:
            raise Conflict("办件已收件，请审查后受理、告知补正或不予受理")
        if window.outcome == Outcome.SUPPLEMENT and intake_row.notice_at is not None:
            raise outcomes.noticed_already(intake_row)
        outcomes.check(window, rows)
        now = clock.now()
        if window.outcome != Outcome.ACCEPT:
            return outcomes.apply(session, case, window, rows, actor, now, intake_row.received_at)
        session.execute(update(CaseIntake).where(CaseIntake.case_id == case.id).values(materials=rows))
        intake_row.materials = rows
        was = "补正" if case.status == CaseStatus.SUPPLEMENT else "收件待审"
        step, workflow = intake.accept_later(rt, session, case, version, intake_row, actor, now, now,
                                             EventKind.CASE_ACCEPTED, {"after": was, "materials": rows})
    rt.states.put(case.id, case.revision, workflow)
    return step
