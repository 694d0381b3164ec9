"""延期: more working days for a running deadline, asked with a reason and decided by the leader who answers for it.

行政许可法 §42: a decision due in 20 working days may be extended by 10 more with the approval of the head of the
administrative organ; an item may set its own cap (item.toml `max_extension_days`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..cases.context import Runtime
from ..cases.locking import actor as load_actor
from ..cases.locking import lock_case
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..models import Case, Deadline, Extension, OrgUnit, Role, ServiceItem, Task, User
from ..notifications import notify
from ..people import access
from ..people.jurisdiction import Actor
from ..vocabulary import DeadlineStatus, EventKind, ExtensionStatus, TaskStatus
from . import promised

# 行政许可法 §42: "延长十日" — ten more working days unless the item sets its own cap.
DEFAULT_MAX_EXTENSION_DAYS = 10
MAX_REASON_CHARS = 500
NOTIFICATION_KIND = "extension"


@dataclass(frozen=True)
class Target:
    """A deadline as the extension rule reads it (see access.ExtensionTarget)."""

    town_id: int
    step_role_code: str | None
    step_org_id: int | None
    step_level: str | None


def max_extension_days(guide: dict[str, Any]) -> int:
    return int(guide.get("max_extension_days", DEFAULT_MAX_EXTENSION_DAYS))


def written_text(text: Any, field: str, label: str, required: bool = True) -> str:
    """A reason, note or complaint typed by a person: trimmed, required unless told, at most 500 characters."""
    reason = str(text or "").strip()
    if required and not reason:
        raise ValidationFailed(f"请填写{label}", fields={field: [f"请填写{label}"]})
    if len(reason) > MAX_REASON_CHARS:
        message = f"{label}不能超过 {MAX_REASON_CHARS} 个字（现有 {len(reason)} 个字）"
        raise ValidationFailed(message, fields={field: [message]})
    return reason


def _days(value: Any) -> int:
    """A positive whole number of working days, as JSON (a number) or a form (digits) sends it."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationFailed("延期天数应为正整数（工作日）", fields={"days": ["延期天数应为正整数（工作日）"]})
    return value


def _target(session: Session, case: Case, deadline: Deadline) -> Target:
    if deadline.task_id is None:
        return Target(case.town_id, None, None, None)
    row = session.execute(select(Task.role_code, Task.org_id, Role.level).join(Role, Role.code == Task.role_code)
                          .where(Task.id == deadline.task_id)).one()
    return Target(case.town_id, row.role_code, row.org_id, row.level)


def _deciders(session: Session, target: Target) -> list[int]:
    """Everyone `access.may_decide_extension` lets decide: whom a new request is sent to."""
    if target.step_level == "county":
        post = (target.step_role_code, target.step_org_id)
    else:
        post = (access.TOWN_LEADER_ROLE, target.town_id)
    return list(session.scalars(select(User.id).where(User.role_code == post[0], User.org_id == post[1],
                                                      User.active.is_(True))))


def _open_deadline(session: Session, case: Case, deadline_id: int | None) -> Deadline:
    """The deadline asked about: a step's own limit by id, or the case clock when none is named."""
    condition = Deadline.id == deadline_id if deadline_id is not None else Deadline.task_id.is_(None)
    deadline = session.scalar(select(Deadline).where(Deadline.case_id == case.id, condition).with_for_update())
    if deadline is None:
        raise NotFound("该办件没有这一期限")
    if deadline.status != DeadlineStatus.OPEN:
        raise Conflict(f"“{deadline.name}”已结束，不能再申请延期")
    return deadline


def request(rt: Runtime, actor_id: int, case_id: int, deadline_id: int | None, days: Any, reason: Any) -> Extension:
    """Ask for `days` more working days on a deadline of the case (the case clock when `deadline_id` is None)."""
    text, wanted = written_text(reason, "reason", "延期理由"), _days(days)
    with rt.db.write() as session:
        actor = load_actor(session, actor_id)
        case = lock_case(session, case_id)
        if not access.may_see_case(actor, case) and not _holds_open_step(session, actor, case):
            raise NotFound("办件不存在")
        open_posts = [(row.role_code, row.org_id) for row in session.execute(
            select(Task.role_code, Task.org_id).where(Task.case_id == case.id, Task.status == TaskStatus.OPEN))]
        starter = session.execute(select(User.role_code, User.org_id).where(User.id == case.started_by_id)).one()
        if not access.may_request_extension(actor, open_posts, (starter.role_code, starter.org_id)):
            raise Forbidden("只有正在办理该办件的岗位人员或受理窗口可以申请延期")
        deadline = _open_deadline(session, case, deadline_id)
        cap = max_extension_days(rt.versions.get(session, case.version_id).guide)
        asked = session.scalar(select(func.coalesce(func.sum(Extension.days), 0)).where(
            Extension.deadline_id == deadline.id,
            Extension.status.in_([ExtensionStatus.APPROVED, ExtensionStatus.PENDING]))) or 0
        if asked + wanted > cap:
            left = max(cap - asked, 0)
            message = (f"延期合计不得超过 {cap} 个工作日（《行政许可法》第四十二条）：“{deadline.name}”已批准或待批"
                       f" {asked} 个工作日，最多还可申请 {left} 个工作日")
            raise ValidationFailed(message, fields={"days": [message]})
        now = clock.now()
        extension = Extension(case_id=case.id, deadline_id=deadline.id, days=wanted, reason=text,
                              requested_by_id=actor.id, requested_at=now, status=ExtensionStatus.PENDING)
        session.add(extension)
        session.flush()
        chain.append(session, case, EventKind.EXTENSION_REQUESTED, actor, now, task_id=deadline.task_id,
                     step=deadline.name, after={"extension": extension.id, "days": wanted, "reason": text})
        notify(session, _deciders(session, _target(session, case, deadline)), f"extension:{extension.id}:asked",
               NOTIFICATION_KIND, f"延期申请待审批：{case.case_number}", now, case_id=case.id,
               body=f"{actor.display_name}申请“{deadline.name}”延期 {wanted} 个工作日：{text}")
        session.expunge(extension)
        return extension


def _holds_open_step(session: Session, actor: Actor, case: Case) -> bool:
    return session.scalar(select(func.count()).select_from(Task).where(
        Task.case_id == case.id, Task.status == TaskStatus.OPEN, Task.role_code == actor.role_code,
        Task.org_id == actor.org_id)) > 0


def decide(rt: Runtime, actor_id: int, extension_id: int, approve: bool, note: Any) -> Extension:
    """Approve (the due date moves by the days asked) or refuse (a reason is required) a pending extension."""
    text = written_text(note, "note", "不予批准的理由" if not approve else "审批意见", required=not approve)
    with rt.db.write() as session:
        actor = load_actor(session, actor_id)
        case_id = session.scalar(select(Extension.case_id).where(Extension.id == extension_id))
        if case_id is None:
            raise NotFound("延期申请不存在")
        case = lock_case(session, case_id)
        extension = session.get(Extension, extension_id, populate_existing=True)
        assert extension is not None
        deadline = session.get(Deadline, extension.deadline_id, populate_existing=True, with_for_update=True)
        assert deadline is not None
        if not access.may_decide_extension(actor, _target(session, case, deadline)):
            raise Forbidden("您无权审批该延期申请：办件期限和村、乡镇环节由乡镇分管领导审批，县级环节由该县级部门审批")
        if extension.status != ExtensionStatus.PENDING:
            by = extension.decided_by.display_name if extension.decided_by else "他人"
            word = "批准" if extension.status == ExtensionStatus.APPROVED else "不予批准"
            raise Conflict(f"该延期申请已由{by}于 {clock.to_minute(extension.decided_at)} 审批（{word}），不能重复审批")
        now = clock.now()
        extension.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REFUSED
        extension.decided_by_id, extension.decided_at, extension.decision_note = actor.id, now, text or None
        chain.append(session, case, EventKind.EXTENSION_DECIDED, actor, now, task_id=deadline.task_id,
                     step=deadline.name, after={"extension": extension.id, "days": extension.days,
                                                "decision": str(extension.status), "note": text or None})
        if approve and deadline.status == DeadlineStatus.OPEN:
            deadline.extended_days += extension.days
            version = rt.versions.get(session, case.version_id)
            promised.recount(session, case, deadline, rt.reference.calendar(session), version.guide, now, actor,
                             why="延期批准")
        word = "已批准" if approve else "未获批准"
        notify(session, [extension.requested_by_id], f"extension:{extension.id}:decided", NOTIFICATION_KIND,
               f"延期申请{word}：{case.case_number}", now, case_id=case.id,
               body=f"“{deadline.name}”延期 {extension.days} 个工作日{word}" + (f"：{text}" if text else ""))
        session.flush()
        session.expunge(extension)
        return extension


# -- reading ---------------------------------------------------------------------------------------

_REQUESTER, _DECIDER, _STEP_ORG = User.__table__.alias("requester"), User.__table__.alias("decider"), \
    OrgUnit.__table__.alias("step_org")
EXTENSION_ROWS = select(
    Extension.id, Extension.case_id, Extension.deadline_id, Extension.days, Extension.reason, Extension.status,
    Extension.requested_at, Extension.decided_at, Extension.decision_note,
    _REQUESTER.c.display_name.label("requested_by"), _DECIDER.c.display_name.label("decided_by"),
    Deadline.name.label("deadline_name"), Deadline.task_id, Deadline.due_date, Deadline.provisional,
    Case.case_number, ServiceItem.name.label("item_name"), Role.name.label("step_role_name"),
    _STEP_ORG.c.name.label("step_org_name"),
).select_from(
    Extension.__table__.join(Deadline, Deadline.id == Extension.deadline_id).join(Case, Case.id == Extension.case_id)
    .join(ServiceItem, ServiceItem.code == Case.item_code)
    .join(_REQUESTER, _REQUESTER.c.id == Extension.requested_by_id)
    .outerjoin(_DECIDER, _DECIDER.c.id == Extension.decided_by_id)
    .outerjoin(Task, Task.id == Deadline.task_id).outerjoin(Role, Role.code == Task.role_code)
    .outerjoin(_STEP_ORG, _STEP_ORG.c.id == Task.org_id)
)
OF_CASE = EXTENSION_ROWS.where(Extension.case_id == bindparam("case_id")).order_by(Extension.id)


def of_case(session: Session, case_id: int) -> Sequence[Row[Any]]:
    """Every extension of a case, asked first first, with who asked and who decided."""
    return session.execute(OF_CASE, {"case_id": case_id}).all()


def one(session: Session, extension_id: int) -> Row[Any]:
    return session.execute(EXTENSION_ROWS.where(Extension.id == extension_id)).one()


def pending_for(session: Session, user: access.Staff, limit: int = 200) -> Sequence[Row[Any]]:
    """The pending extensions this user may decide, oldest first."""
    return session.execute(EXTENSION_ROWS.where(Extension.status == ExtensionStatus.PENDING,
                                                access.extensions_decidable_by(user))
                           .order_by(Extension.requested_at, Extension.id).limit(limit)).all()


def pending_count(session: Session, user: access.Staff) -> int:
    statement = select(func.count()).select_from(
        Extension.__table__.join(Deadline, Deadline.id == Extension.deadline_id)
        .join(Case, Case.id == Extension.case_id).outerjoin(Task, Task.id == Deadline.task_id)
        .outerjoin(Role, Role.code == Task.role_code)
    ).where(Extension.status == ExtensionStatus.PENDING, access.extensions_decidable_by(user))
    return session.scalar(statement) or 0


def open_deadlines(session: Session, case_id: int) -> Sequence[Row[Any]]:
    """The case's running deadlines an extension may be asked for: the case clock first, then steps by due date."""
    return session.execute(select(Deadline.id, Deadline.name, Deadline.task_id, Deadline.due_date).where(
        Deadline.case_id == case_id, Deadline.status == DeadlineStatus.OPEN)
        .order_by(Deadline.task_id.is_not(None), Deadline.due_date, Deadline.id)).all()
