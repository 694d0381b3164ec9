"""转办: the holder of an open task hands it for good to another post serving the case, with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..cases.context import Runtime
from ..cases.locking import lock_task
from ..db import queue_update
from ..errors import ValidationFailed
from ..models import Case, OrgUnit, Role, Task, User
from ..notifications import notify
from ..people import access
from ..people.jurisdiction import Post, receiving_posts
from ..vocabulary import Arrival, EventKind, TaskOperation
from .delegate import Colleague, colleagues
from .operated import ensure_may, reason

TASKS, USERS = Task.__table__, User.__table__
NOTIFICATION_KIND = "transfer"
HOLDERS = select(USERS.c.id).where(USERS.c.role_code == bindparam("role_code"),
                                   USERS.c.org_id == bindparam("org_id"), USERS.c.active.is_(True))
# The posts of a place that someone holds: a post without an active holder could never work what it receives.
STAFFED = select(USERS.c.role_code, USERS.c.org_id).where(
    USERS.c.active.is_(True), USERS.c.org_id.in_(bindparam("org_ids", expanding=True))).distinct()


@dataclass(frozen=True)
class Receivers:
    """Where the holder of a task may hand it: another post for good (转办), a colleague for an answer (委派)."""

    posts: list[Post]
    colleagues: list[Colleague]


def receivers(rt: Runtime, actor_id: int, task_id: str) -> Receivers:
    """What `task_id`'s holder may transfer or delegate it to; refused if they may do neither."""
    with rt.db.write() as session:
        actor, task, case = lock_task(session, actor_id, task_id)
        ensure_may(actor, TaskOperation.TRANSFER, task, case)
        return offered(session, actor, (task.role_code, task.org_id), case)


def offered(session: Session, actor: access.Staff, post: tuple[str, int], case: Case) -> Receivers:
    """What a page offers a holder of `post` (the task's current post); `transfer` and `delegate` check the choice
    again under the case lock."""
    places = [case.village_id, case.town_id, case.county_id]
    staffed = {(row.role_code, row.org_id) for row in session.execute(STAFFED, {"org_ids": places})}
    posts = [found for found in receiving_posts(session, case)
             if (found.role_code, found.org_id) != post and (found.role_code, found.org_id) in staffed]
    return Receivers(posts, colleagues(session, actor, case))


def transfer(rt: Runtime, actor_id: int, task_id: str, role_code: Any, org_id: Any, why: Any) -> Post:
    """Move the open task `task_id` to the post (`role_code` at `org_id`) for good; its holders are told why."""
    written = reason(why, TaskOperation.TRANSFER)
    with rt.db.write() as session:
        actor, task, case = lock_task(session, actor_id, task_id)
        ensure_may(actor, TaskOperation.TRANSFER, task, case)
        role = session.get(Role, role_code) if isinstance(role_code, str) else None
        org = session.get(OrgUnit, org_id) if isinstance(org_id, int) and not isinstance(org_id, bool) else None
        if role is None or org is None or role.level != org.level or not access.works_tasks(role.code):
            raise _refused("请选择服务本办件所在村（社区）、乡镇或县的一个办理岗位")
        if not access.may_receive_task(role.level, org.id, case):
            raise _refused(f"{org.name}{role.name}不服务本办件所在的村（社区）、乡镇或县，不能转办到该岗位")
        if (role.code, org.id) == (task.role_code, task.org_id):
            raise _refused("该任务已在这一岗位，无需转办")
        holders = list(session.scalars(HOLDERS, {"role_code": role.code, "org_id": org.id}))
        if not holders:
            raise _refused(f"{org.name}{role.name}目前没有在职人员，不能转办到该岗位")
        now = clock.now()
        target = Post(role.code, org.id, f"{org.name} · {role.name}")
        queue_update(session, TASKS, task.id, role_code=role.code, org_id=org.id, assignee_id=None,
                     arrival=Arrival.TRANSFERRED, arrival_note=written, arrival_by_id=actor.id)
        # The posts by name for the history; the new post's codes for the replay, which routes by them.
        chain.append(session, case, EventKind.TASK_TRANSFERRED, actor, now, task_id=task.id, step=task.name,
                     before={"post": _label(session, task.role_code, task.org_id),
                             "assignee": task.assignee.display_name if task.assignee else None},
                     after={"post": target.label, "assignee": None, "reason": written, "role": role.code,
                            "org_id": org.id})
        notify(session, holders, f"transferred:{task.id}:{case.event_count}", NOTIFICATION_KIND,
               f"转办任务：{case.case_number}“{task.name}”", now, case_id=case.id,
               body=f"{actor.display_name}（{_label(session, actor.role_code, actor.org_id)}）转办至本岗位：{written}")
        return target


def _label(session: Session, role_code: str, org_id: int) -> str:
    role, org = session.get(Role, role_code), session.get(OrgUnit, org_id)
    return f"{org.name if org else ''} · {role.name if role else role_code}"


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"post": [message]})

