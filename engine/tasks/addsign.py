"""加签: the holder of an open task adds a post to sign it, before or after themselves, for this case only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..audit.chain import Acting
from ..cases.context import Runtime
from ..cases.locking import TaskRecord, lock_task
from ..cases.reconcile import INSERT, NO_ARRIVAL
from ..db import queue_update, queue_write
from ..errors import Conflict, ValidationFailed
from ..models import Case, OrgUnit, Role, Task, User
from ..people.access import CaseLike, may_add_as_signer
from ..vocabulary import Arrival, EventKind, TaskOperation, TaskStatus
from .claim import take
from .countersign import Decided, signed
from .operated import ensure_may, reason

BEFORE, AFTER = "before", "after"
POSITIONS = (BEFORE, AFTER)
TASKS, USERS, ROLES, ORGS = Task.__table__, User.__table__, Role.__table__, OrgUnit.__table__
WAITING_AFTER = select(TASKS.c.id, TASKS.c.role_code, TASKS.c.org_id).where(
    TASKS.c.signing_for == bindparam("task_id"), TASKS.c.status == TaskStatus.PENDING)
UI_FORM = select(TASKS.c.ui_form_file).where(TASKS.c.id == bindparam("task_id"))
# The posts with someone to sign: each (role, org unit) held by an active account.
HELD_POSTS = select(USERS.c.role_code, USERS.c.org_id, ROLES.c.name.label("role_name"), ROLES.c.level,
                    ORGS.c.name.label("org_name")).select_from(
    USERS.join(ROLES, ROLES.c.code == USERS.c.role_code).join(ORGS, ORGS.c.id == USERS.c.org_id)
).where(USERS.c.active.is_(True)).distinct()
HOLDERS = select(func.count()).select_from(USERS).where(
    USERS.c.role_code == bindparam("role_code"), USERS.c.org_id == bindparam("org_id"), USERS.c.active.is_(True))


@dataclass(frozen=True)
class Post:
    role_code: str
    role_name: str
    org_id: int
    org_name: str

    @property
    def name(self) -> str:
        return f"{self.org_name} {self.role_name}"


@dataclass(frozen=True)
class Added:
    """The signer row a 加签 opened (or left waiting, after the holder) for `task_id`."""

    task_id: str
    signer_id: str
    position: str
    post: Post


def candidates(session: Session, case: CaseLike, own: tuple[str, int]) -> list[Post]:
    """The posts the holder of a task on post `own` may add as signer: held by someone, serving the case, not
    their own; the village's first, then the town's and the county's."""
    rows = session.execute(HELD_POSTS.where(USERS.c.org_id.in_([case.village_id, case.town_id, case.county_id])))
    order = {case.village_id: 0, case.town_id: 1, case.county_id: 2}
    return sorted((Post(row.role_code, row.role_name, row.org_id, row.org_name) for row in rows
                   if may_add_as_signer(row.role_code, row.level, row.org_id, case)
                   and (row.role_code, row.org_id) != own),
                  key=lambda post: (order[post.org_id], post.role_code))


def waiting_after(session: Session, task_id: str) -> Any:
    """The signer added after the holder of `task_id`, waiting for the holder's answer; None if there is none."""
    return session.execute(WAITING_AFTER, {"task_id": task_id}).first()


def add_signer(rt: Runtime, actor_id: int, task_id: str, role_code: str, org_id: int, position: str,
               why: str) -> Added:
    """Add the post (`role_code`, `org_id`) to sign the open task `task_id` before or after its holder."""
    written = reason(why, TaskOperation.ADD_SIGNER)
    if position not in POSITIONS:
        message = "加签位置应为 before（在您之前签署）或 after（在您之后签署）"
        raise ValidationFailed(message, fields={"position": [message]})
    with rt.db.write() as session:
        actor, task, case = lock_task(session, actor_id, task_id)
        ensure_may(actor, TaskOperation.ADD_SIGNER, task, case)
        if waiting_after(session, task.id) is not None:
            raise Conflict("该任务已加签了一个在您之后签署的岗位：请先办理本任务，或等其签署后再加签")
        post = _post(rt, session, case, task, role_code, org_id)
        now = clock.now()
        if task.assignee_id is None:
            # It comes back to the one who added the signer: the task is theirs from here.
            take(session, case, task, actor, now)
        signer_id = str(uuid4())
        waits = position == AFTER
        queue_write(session, INSERT[TASKS], {
            "id": signer_id, "case_id": case.id, "element_id": task.element_id, "name": task.name,
            "role_code": post.role_code, "org_id": post.org_id, "form_file": task.form_file,
            "ui_form_file": session.execute(UI_FORM, {"task_id": task.id}).scalar(),
            "status": TaskStatus.PENDING if waits else TaskStatus.OPEN, "created_at": now, "assignee_id": None,
            "completed_at": None, "completed_by_id": None, "promised_date": case.promised_date,
            "opened_by_task_id": None, **NO_ARRIVAL, "arrival": Arrival.ADDED_SIGNER, "arrival_note": written,
            "arrival_by_id": actor.id, "signing_for": task.id, "sign_position": position,
        })
        if not waits:
            queue_update(session, TASKS, task.id, status=TaskStatus.HELD)
        chain.append(session, case, EventKind.SIGNER_ADDED, actor, now, task_id=task.id, step=task.name,
                     after={"post": post.name, "position": position, "reason": written})
        chain.append(session, case, EventKind.TASK_CREATED, actor, now, task_id=signer_id, step=task.name,
                     after={"role": post.role_code, "role_name": post.role_name, "org_id": post.org_id,
                            "signing_for": task.id, "sign_position": position,
                            **({"status": TaskStatus.PENDING} if waits else {})})
    return Added(task.id, signer_id, position, post)


def _post(rt: Runtime, session: Session, case: Case, task: TaskRecord, role_code: Any, org_id: Any) -> Post:
    """The post chosen, refused with the reason when it may not sign this case."""
    role = rt.reference.role(session, role_code) if isinstance(role_code, str) and role_code else None
    org = session.get(OrgUnit, org_id) if isinstance(org_id, int) and not isinstance(org_id, bool) else None
    if role is None or org is None:
        raise _refused("请选择要加签的岗位" if not role_code else "所选岗位不存在，请重新选择")
    if not may_add_as_signer(role.code, role.level, org.id, case):
        raise _refused(f"“{org.name} {role.name}”不是本办件所在村、镇、县的办理岗位，不能加签")
    if (role.code, org.id) == (task.role_code, task.org_id):
        raise _refused("不能加签本岗位：本岗位的同事可认领或代岗办理，加签须选其他岗位")
    if not session.execute(HOLDERS, {"role_code": role.code, "org_id": org.id}).scalar():
        raise _refused(f"“{org.name} {role.name}”目前没有在职人员，加签后将无人签署")
    return Post(role.code, role.name, org.id, org.name)


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"role": [message]})


def sign(session: Session, case: Case, task: TaskRecord, actor: Acting, data: dict[str, Any],
         now: datetime) -> Decided | None:
    """An added signer's (checked) answer: before the holder, the task goes back to them with it; after the
    holder, it completes the task."""
    signed(session, case, task, actor, data, now)
    if task.sign_position == AFTER and task.signing_for:
        return Decided(task.signing_for, data)
    queue_update(session, TASKS, task.signing_for, status=TaskStatus.OPEN, arrival=Arrival.SIGNED_BEFORE,
                 arrival_note=None, arrival_by_id=actor.id, answer=data)
    return None


def hand_on(session: Session, case: Case, task: TaskRecord, waiting: Any, actor: Acting, data: dict[str, Any],
            now: datetime) -> None:
    """The holder's (checked) answer to a task with a signer added after them: kept on their row, held meanwhile,
    and the signer's row opens with it."""
    queue_update(session, TASKS, task.id, status=TaskStatus.HELD, answer=data,
                 assignee_id=task.assignee_id or actor.id)
    chain.append(session, case, EventKind.TASK_SIGNED, actor, now, task_id=task.id, step=task.name, after=data)
    # Opened now: its inbox says it arrived when it could be worked.
    queue_update(session, TASKS, waiting.id, status=TaskStatus.OPEN, answer=data, created_at=now)
