"""催办: a supervisor, the town leader or the case's village agent reminds the handler of a waiting task to act; the
chase is recorded, notified and counted on the supervision desk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..cases.context import Runtime
from ..cases.locking import TaskRecord, lock_task
from ..errors import Conflict
from ..models import CaseEvent, Chase, OrgUnit, Role, User
from ..notifications import notify
from ..people import access
from ..vocabulary import EventKind, TaskOperation, TaskStatus
from .operated import ensure_may, reason

NOTIFICATION_KIND = "chase"
EVENTS = CaseEvent.__table__
# The chaser's last chase of the task, and whether anything else has happened on the task since.
LAST_CHASE = select(EVENTS.c.seq, EVENTS.c.at).where(
    EVENTS.c.case_id == bindparam("case_id"), EVENTS.c.task_id == bindparam("task_id"),
    EVENTS.c.actor_id == bindparam("actor_id"), EVENTS.c.kind == EventKind.TASK_CHASED,
).order_by(EVENTS.c.seq.desc()).limit(1)
SINCE = select(EVENTS.c.seq).where(
    EVENTS.c.case_id == bindparam("case_id"), EVENTS.c.task_id == bindparam("task_id"),
    EVENTS.c.seq > bindparam("seq"), EVENTS.c.kind != EventKind.TASK_CHASED,
).limit(1)


def chase(rt: Runtime, actor_id: int, task_id: str, note: Any) -> Chase:
    """Chase the handler of the waiting task `task_id` (its holder, or its post while unclaimed), with a note."""
    written = reason(note, TaskOperation.CHASE, required=False)
    with rt.db.write() as session:
        # A chaser holds none of the task's posts, and a task held while its signers act may be chased too.
        actor, task, case = lock_task(session, actor_id, task_id, open_only=False, post_only=False)
        if task.status not in access.CHASEABLE and access.may_chase(actor, case):
            raise Conflict(_not_waiting(task))
        ensure_may(actor, TaskOperation.CHASE, task, case)
        earlier = session.execute(LAST_CHASE, {"case_id": case.id, "task_id": task.id, "actor_id": actor.id}).first()
        if earlier is not None and session.execute(
                SINCE, {"case_id": case.id, "task_id": task.id, "seq": earlier.seq}).first() is None:
            raise Conflict(f"您已于 {clock.to_minute(earlier.at)} 催办过该任务，尚未办理；"
                           "办理人有新的动作后才能再次催办")
        now = clock.now()
        post = _post_name(session, task.role_code, task.org_id)
        row = Chase(case_id=case.id, task_id=task.id, step=task.name, role_code=task.role_code, org_id=task.org_id,
                    handler_id=task.assignee_id, chased_by_id=actor.id, chased_at=now, note=written)
        session.add(row)
        session.flush()
        chased = f"{task.assignee.display_name}（{post}）" if task.assignee else f"{post}（尚未认领）"
        chain.append(session, case, EventKind.TASK_CHASED, actor, now, task_id=task.id, step=task.name,
                     after={"chased": chased, "chase_note": written} if written else {"chased": chased})
        notify(session, _told(session, task), f"chase:{row.id}", NOTIFICATION_KIND,
               f"催办：{case.case_number}“{task.name}”", now, case_id=case.id,
               body=f"{actor.display_name}催办，请尽快办理" + (f"：{written}" if written else ""))
        session.expunge(row)
        return row


def _not_waiting(task: TaskRecord) -> str:
    if task.status == TaskStatus.COMPLETED:
        by = task.completed_by.display_name if task.completed_by else "他人"
        return f"该任务已由{by}于 {clock.to_minute(task.completed_at)} 办理完毕，无需催办"
    if task.status == TaskStatus.PENDING:
        return "该加签任务要等前一位办理人办理后才开始办理，暂不能催办"
    return "该任务已撤销，无需催办"


def _post_name(session: Session, role_code: str, org_id: int) -> str:
    org = session.scalar(select(OrgUnit.name).where(OrgUnit.id == org_id)) or ""
    role = session.scalar(select(Role.name).where(Role.code == role_code)) or role_code
    return f"{org} {role}".strip()


def _told(session: Session, task: TaskRecord) -> set[int]:
    """Whoever must act: the holder; every holder of the post while it is unclaimed; with an away holder (AB岗) the
    post's holders at work too. The substitute named for an away holder is told in their place."""
    if task.assignee_id is not None and not task.assignee_away:
        return {task.assignee_id}
    holders = session.execute(select(User.id, User.away, User.substitute_id).where(
        User.role_code == task.role_code, User.org_id == task.org_id, User.active.is_(True))).all()
    told = {holder.id for holder in holders if task.assignee_id is None or not holder.away}
    told |= {holder.substitute_id for holder in holders if holder.away and holder.substitute_id}
    return told | ({task.assignee_id} if task.assignee_id is not None else set())


def of_case(session: Session, case_id: int) -> Sequence[Row[Any]]:
    """The case's chases for its page, oldest first, with who chased whom."""
    handler, chaser = User.__table__.alias("handler"), User.__table__.alias("chaser")
    return session.execute(select(
        Chase.id, Chase.task_id, Chase.step, Chase.chased_at, Chase.note, Role.name.label("role_name"),
        OrgUnit.name.label("org_name"), handler.c.display_name.label("handler_name"),
        chaser.c.display_name.label("chaser_name"),
    ).select_from(Chase.__table__.join(Role, Role.code == Chase.role_code).join(OrgUnit, OrgUnit.id == Chase.org_id)
                  .join(chaser, chaser.c.id == Chase.chased_by_id).outerjoin(handler, handler.c.id == Chase.handler_id))
        .where(Chase.case_id == case_id).order_by(Chase.chased_at, Chase.id)).all()
