"""认领 / 释放: a post holder takes a post's task as theirs, or gives it back to the post."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..audit.chain import Acting
from ..cases.context import Runtime
from ..cases.locking import TaskRecord, lock_task
from ..db import queue_update
from ..errors import BianminError, Conflict, Forbidden
from ..models import Case, Task
from ..people.access import Standing, task_access
from ..vocabulary import EventKind

TASKS = Task.__table__


def refusal(task: TaskRecord, standing: Standing) -> BianminError:
    """Why a post holder may not work an open task, as the engine says it everywhere."""
    if standing == Standing.AWAY:
        return Forbidden("您已标记为不在岗，请先恢复在岗再办理任务")
    holder = task.assignee.display_name if task.assignee else "他人"
    if standing == Standing.DELEGATED:
        return Conflict(f"该任务已委派给{holder}办理，待其办理后交回委派人")
    return Conflict(f"该任务已由{holder}认领，请联系其办理或等待其释放")


def claim(rt: Runtime, actor_id: int, task_id: str) -> TaskRecord:
    with rt.db.write() as session:
        actor, task, case = lock_task(session, actor_id, task_id)
        if task.assignee_id == actor.id:
            return task
        decided = task_access(actor, task)
        if not decided.may_claim:
            raise refusal(task, decided.standing)
        take(session, case, task, actor, clock.now())
        return task


def take(session: Session, case: Case, task: TaskRecord, actor: Acting, now: datetime) -> None:
    """Make the (locked) task the actor's, on the record: also when an operation claims it on the way (加签)."""
    before = {"assignee": task.assignee.display_name if task.assignee else None}
    queue_update(session, TASKS, task.id, assignee_id=actor.id)
    chain.append(session, case, EventKind.TASK_CLAIMED, actor, now, task_id=task.id, step=task.name,
                 before=before, after={"assignee": actor.display_name})


def release(rt: Runtime, actor_id: int, task_id: str) -> TaskRecord:
    with rt.db.write() as session:
        actor, task, case = lock_task(session, actor_id, task_id)
        if task.assignee_id != actor.id:
            raise Conflict("只能释放自己认领的任务")
        if task.delegated_by_id is not None:
            # Released, it would sit with the post still marked delegated: it goes back by answering or recall.
            raise Conflict("受委派的任务不能释放：请办理后交回委派人，或请委派人收回")
        queue_update(session, TASKS, task.id, assignee_id=None)
        chain.append(session, case, EventKind.TASK_RELEASED, actor, clock.now(), task_id=task.id, step=task.name,
                     before={"assignee": actor.display_name}, after={"assignee": None})
        return task
