"""The locked reads that open every change: the case row, or the task row with its case and the acting user."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .. import clock
from ..errors import Conflict, Forbidden, NotFound
from ..models import Case, OrgUnit, Task, User
from ..people import access
from ..people.jurisdiction import ACTOR_ROWS, Actor, covered_posts
from ..vocabulary import TaskStatus

CASES, TASKS, USERS, ORGS = Case.__table__, Task.__table__, User.__table__, OrgUnit.__table__
FRESH = {"populate_existing": True}
LOCK_CASE = select(Case).where(Case.id == bindparam("case_id")).with_for_update()
ACTOR = ACTOR_ROWS.where(USERS.c.id == bindparam("user_id"))
_ACTOR, _ACTOR_ORG = USERS.alias("actor"), ORGS.alias("actor_org")
# The case, the task and the acting user in one statement. Both the case and the task row are locked,
# the case first as every writer does, so a writer that had to wait re-reads both as committed by
# the one before it; the people a task row names are read by the ids in that fresh row.
LOCK_TASK = select(
    Case, TASKS.c.id.label("task_id"), TASKS.c.name.label("task_name"), TASKS.c.role_code.label("task_role_code"),
    TASKS.c.org_id.label("task_org_id"), TASKS.c.form_file, TASKS.c.status.label("task_status"),
    TASKS.c.assignee_id, TASKS.c.completed_by_id, TASKS.c.completed_at.label("task_completed_at"),
    TASKS.c.element_id, TASKS.c.signing_for, TASKS.c.sign_position, TASKS.c.delegated_by_id, TASKS.c.arrival,
    TASKS.c.opened_by_task_id,
    _ACTOR.c.id.label("actor_id"), _ACTOR.c.username.label("actor_username"),
    _ACTOR.c.display_name.label("actor_name"), _ACTOR.c.role_code.label("actor_role_code"),
    _ACTOR.c.org_id.label("actor_org_id"), _ACTOR.c.away.label("actor_away"),
    _ACTOR_ORG.c.level.label("actor_org_level"),
).select_from(
    CASES.join(TASKS, TASKS.c.case_id == CASES.c.id).join(_ACTOR, _ACTOR.c.id == bindparam("user_id"))
    .join(_ACTOR_ORG, _ACTOR_ORG.c.id == _ACTOR.c.org_id)
).where(TASKS.c.id == bindparam("task_id"), _ACTOR.c.active.is_(True)).with_for_update(of=[CASES, TASKS])
PERSON = select(USERS.c.display_name, USERS.c.away).where(USERS.c.id == bindparam("user_id"))


@dataclass(frozen=True)
class Person:
    display_name: str
    away: bool = False


@dataclass(frozen=True)
class TaskRecord:
    """A task row as read under the case lock."""

    id: str
    case_id: int
    name: str
    role_code: str
    org_id: int
    form_file: str | None
    status: str
    assignee_id: int | None
    assignee: Person | None
    completed_at: datetime | None
    completed_by: Person | None
    completed_by_id: int | None = None
    element_id: str = ""
    signing_for: str | None = None
    sign_position: str | None = None
    delegated_by_id: int | None = None
    arrival: str | None = None
    opened_by_task_id: str | None = None

    @property
    def assignee_away(self) -> bool:
        return bool(self.assignee and self.assignee.away)


def actor(session: Session, user_id: int) -> Actor:
    row = session.connection().execute(ACTOR, {"user_id": user_id}).first()
    if row is None or not row.active:
        raise Forbidden("用户不存在或已停用")
    return Actor.from_row(row)


def person(session: Session, user_id: int | None) -> Person | None:
    row = session.connection().execute(PERSON, {"user_id": user_id}).first() if user_id else None
    return Person(row.display_name, row.away) if row else None


def lock_case(session: Session, case_id: int) -> Case:
    case = session.scalar(LOCK_CASE, {"case_id": case_id}, execution_options=FRESH)
    if case is None:
        raise NotFound("办件不存在")
    return case


def lock_task(session: Session, actor_id: int, task_id: str, *, open_only: bool = True,
              post_only: bool = True) -> tuple[Actor, TaskRecord, Case]:
    """Lock the task's case and row for `actor_id`; refuse a task of another post or one no longer open.

    撤回 locks a completed task (`open_only=False`), 催办 one of another post (`post_only=False`); the operation
    then asks `access.may_operate` itself.
    """
    row = session.execute(LOCK_TASK, {"task_id": task_id, "user_id": actor_id}, execution_options=FRESH).first()
    if row is None:
        actor(session, actor_id)  # a missing or disabled account is refused as such
        raise NotFound("任务不存在")
    case: Case = row.Case
    who = Actor(row.actor_id, row.actor_username, row.actor_name, row.actor_role_code, row.actor_org_id,
                row.actor_org_level, row.actor_away)
    # Who holds or finished the task matters only off the usual path (someone else's claim, a conflict).
    if row.assignee_id == who.id:
        assignee: Person | None = Person(who.display_name, who.away)
    else:
        assignee = person(session, row.assignee_id)
    completer = person(session, row.completed_by_id) if row.task_status == TaskStatus.COMPLETED else None
    task = TaskRecord(row.task_id, case.id, row.task_name, row.task_role_code, row.task_org_id, row.form_file,
                      row.task_status, row.assignee_id, assignee, row.task_completed_at, completer,
                      row.completed_by_id, row.element_id, row.signing_for, row.sign_position, row.delegated_by_id,
                      row.arrival, row.opened_by_task_id)
    if not access.holds_post(who, task):
        # Off the usual path: the actor may be the substitute named for the post's away holder.
        who = replace(who, covers=covered_posts(session, who.id))
    if post_only and not access.holds_post(who, task):
        raise Forbidden("您不是该任务所属岗位的人员，无权办理")
    if not open_only:
        return who, task, case
    if task.status == TaskStatus.HELD:
        raise Conflict("该任务正在等待会签或加签人员办理，暂不能操作")
    if task.status == TaskStatus.PENDING:
        raise Conflict("该加签任务要等前一位办理人办理后才能办理")
    if task.status == TaskStatus.COMPLETED:
        by = task.completed_by.display_name if task.completed_by else "他人"
        raise Conflict(f"该任务已由{by}于 {clock.to_minute(task.completed_at)} 办理完毕，无需重复办理")
    if task.status != TaskStatus.OPEN:
        raise Conflict("该任务已撤销，无需办理")
    return who, task, case
