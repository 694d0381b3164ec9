"""委派: the holder of an open task hands it to a colleague, whose answer comes back to them for sign-off."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..cases.context import Runtime
from ..cases.locking import TaskRecord, lock_task
from ..cases.reconcile import Step
from ..db import queue_update
from ..errors import Conflict, Forbidden, ValidationFailed
from ..models import Case, OrgUnit, Role, Task, User
from ..notifications import notify
from ..people import access
from ..people.jurisdiction import ACTOR_ROWS, Actor, covered_posts
from ..procedures import forms
from ..procedures.spiff import load_state
from ..vocabulary import Arrival, EventKind, TaskOperation
from .claim import refusal
from .operated import checked_answer, ensure_may, reason

TASKS, USERS, ORGS, ROLES = Task.__table__, User.__table__, OrgUnit.__table__, Role.__table__
NOTIFICATION_KIND = "delegate"
LEVELS = ("village", "town", "county")
# Staff as `Actor.from_row` reads them, with the names a choice of colleague shows; active accounts only.
_STAFF = ACTOR_ROWS.add_columns(ORGS.c.name.label("org_name"), ROLES.c.name.label("role_name")).join(
    ROLES, ROLES.c.code == USERS.c.role_code).where(USERS.c.active.is_(True))
COLLEAGUES = _STAFF.where(USERS.c.org_id.in_(bindparam("org_ids", expanding=True)))
ONE = _STAFF.where(USERS.c.id == bindparam("user_id"))
DELEGATOR = select(USERS.c.id, USERS.c.display_name, USERS.c.role_code, USERS.c.org_id).where(
    USERS.c.id == bindparam("user_id"), USERS.c.active.is_(True))


@dataclass(frozen=True)
class Colleague:
    id: int
    username: str
    display_name: str
    label: str


def colleagues(session: Session, actor: access.Staff, case: Case) -> list[Colleague]:
    """Whom `actor` may delegate a task of `case` to: their own post's other holder first, then their unit, then the
    other units serving the case."""
    rows = session.connection().execute(COLLEAGUES, {"org_ids": [case.village_id, case.town_id, case.county_id]})
    found = [row for row in rows if row.id != actor.id and access.may_receive_delegation(Actor.from_row(row), case)]
    found.sort(key=lambda row: (row.role_code != actor.role_code or row.org_id != actor.org_id,
                                row.org_id != actor.org_id, LEVELS.index(row.org_level), row.role_name, row.username))
    return [_colleague(row) for row in found]


def _colleague(row: Any) -> Colleague:
    return Colleague(row.id, row.username, row.display_name, f"{row.display_name}（{row.org_name} · {row.role_name}）")


def delegate(rt: Runtime, actor_id: int, task_id: str, colleague_id: Any, why: Any) -> Colleague:
    """Hand the open task `task_id` to the colleague `colleague_id`; it comes back to the actor once answered."""
    written = reason(why, TaskOperation.DELEGATE)
    with rt.db.write() as session:
        actor, task, case = lock_task(session, actor_id, task_id)
        ensure_may(actor, TaskOperation.DELEGATE, task, case)
        chosen = isinstance(colleague_id, int) and not isinstance(colleague_id, bool)
        row = session.connection().execute(ONE, {"user_id": colleague_id}).first() if chosen else None
        if row is None:
            raise _refused("请选择一位在职的同事")
        if row.id == actor.id:
            raise _refused("不能委派给自己")
        colleague = Actor.from_row(row)
        if not access.may_receive_delegation(colleague, case):
            raise _refused(_why_not(colleague))
        now = clock.now()
        queue_update(session, TASKS, task.id, assignee_id=colleague.id, delegated_by_id=actor.id,
                     arrival=Arrival.DELEGATED, arrival_note=written, arrival_by_id=actor.id)
        chain.append(session, case, EventKind.TASK_DELEGATED, actor, now, task_id=task.id, step=task.name,
                     before={"assignee": task.assignee.display_name if task.assignee else None},
                     after={"assignee": colleague.display_name, "reason": written})
        notify(session, [colleague.id], f"delegated:{task.id}:{case.event_count}", NOTIFICATION_KIND,
               f"委派任务：{case.case_number}“{task.name}”", now, case_id=case.id,
               body=f"{actor.display_name}委派您办理，办理后交回其审核：{written}")
        return _colleague(row)


def _why_not(colleague: Actor) -> str:
    if not access.works_tasks(colleague.role_code):
        return f"{colleague.display_name}属电子监察、审计或系统管理岗位，不办理任务，不能委派"
    if colleague.away:
        return f"{colleague.display_name}目前不在岗，不能委派"
    return f"{colleague.display_name}所在岗位不服务本办件所在的村（社区）、乡镇或县，不能委派"


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"user": [message]})


def answer(rt: Runtime, session: Session, actor: Actor, task: TaskRecord, case: Case, data: Any) -> Step:
    """The delegate's submission of the (locked) delegated task: checked as a completion is, kept on the row, and
    the task back with the one who delegated it, who completes it with this answer in their form."""
    decided = access.task_access(actor, task)
    if not decided.may_complete:
        raise refusal(task, decided.standing)
    now = clock.now()
    version = rt.versions.get(session, case.version_id)
    schema = forms.task_form(version.forms, task.form_file)
    forms.validate(schema, data, task.name)
    # The stored state, not the cached workflow: nothing here moves the case, and the cache is for whoever does.
    workflow = load_state(case.workflow_state, version.spec, version.subprocess_specs)
    checked_answer(workflow, case, version.forms, schema, task.id, task.name, data, now)
    back = _delegator(session, task)
    queue_update(session, TASKS, task.id, assignee_id=back.id if back else None, delegated_by_id=None,
                 arrival=Arrival.DELEGATE_ANSWERED, arrival_by_id=actor.id, answer=data)
    # The answer goes on the history as given; the case's data changes only when the delegator completes.
    chain.append(session, case, EventKind.DELEGATE_ANSWERED, actor, now, task_id=task.id, step=task.name,
                 before={"assignee": actor.display_name},
                 after={**data, "assignee": back.display_name if back else None})
    if back is not None:
        notify(session, [back.id], f"delegate_answered:{task.id}:{case.event_count}", NOTIFICATION_KIND,
               f"委派任务已交回：{case.case_number}“{task.name}”", now, case_id=case.id,
               body=f"{actor.display_name}已办理并交回，请审核其办理内容后提交")
    return Step(case, [])


def _delegator(session: Session, task: TaskRecord) -> Any:
    """Who delegated the task, while they still hold (or stand in for) its post; else it goes back to the post."""
    row = session.execute(DELEGATOR, {"user_id": task.delegated_by_id}).first()
    post = (task.role_code, task.org_id)
    if row is None or (post != (row.role_code, row.org_id) and post not in covered_posts(session, row.id)):
        return None
    return row


def recall(rt: Runtime, actor_id: int, task_id: str) -> TaskRecord:
    """收回委派: the delegator takes the task back before the colleague has answered it."""
    with rt.db.write() as session:
        actor, task, case = lock_task(session, actor_id, task_id)
        if not access.may_recall_delegation(actor, task):
            if task.delegated_by_id is None:
                raise Conflict("该任务不在委派中（受委派人可能已办理交回），无需收回")
            raise Forbidden("只有委派人可以收回委派")
        now = clock.now()
        queue_update(session, TASKS, task.id, assignee_id=actor.id, delegated_by_id=None, arrival=None,
                     arrival_note=None, arrival_by_id=None)
        colleague = task.assignee.display_name if task.assignee else None
        chain.append(session, case, EventKind.TASK_DELEGATED, actor, now, task_id=task.id, step=task.name,
                     before={"assignee": colleague}, after={"assignee": actor.display_name, "recalled": True})
        if task.assignee_id is not None:
            notify(session, [task.assignee_id], f"delegate_recalled:{task.id}:{case.event_count}", NOTIFICATION_KIND,
                   f"委派已收回：{case.case_number}“{task.name}”", now, case_id=case.id,
                   body=f"{actor.display_name}已收回该任务，您无需再办理")
        return task
