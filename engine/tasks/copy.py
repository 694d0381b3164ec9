"""抄送: a case copied to posts that serve it, by a step's holder or by the diagram's `copyTo` when the step is
completed; the posts' holders read it, without a task, in "抄送我的"."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from sqlalchemy import ColumnElement, Row, and_, func, or_, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..audit.chain import Acting
from ..cases.context import Runtime
from ..cases.locking import lock_task
from ..deadlines.marks import properties
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..models import Case, CaseCopy, OrgUnit, Role, ServiceItem, User
from ..notifications import notify
from ..people import access
from ..people.access import Staff
from ..people.jurisdiction import covered_posts, org_for_role
from ..vocabulary import EventKind, TaskOperation
from .operated import ensure_may, reason

COPY_TO = "copyTo"
NOTIFICATION_KIND = "case_copy"
# A hand copy names its posts one by one; a county has a few dozen, so more than this is a mistake.
MAX_POSTS = 50


@dataclass(frozen=True)
class Post:
    """A post as a copy names it: a role at an org unit."""

    role_code: str
    org_id: int


# -- from the diagram --------------------------------------------------------------------------------


def copy_roles(spec: Any) -> list[str]:
    """The role codes a user task's `copyTo` names (comma-separated, Chinese commas too), in order, once each."""
    text = properties(spec).get(COPY_TO, "").replace("，", ",").replace("、", ",")
    return list(dict.fromkeys(code.strip() for code in text.split(",") if code.strip()))


def problems(specs: Iterable[Any], role_codes: set[str]) -> list[tuple[Any, str]]:
    """`copyTo` on anything but a user task, empty, or naming a role nobody knows: refused at deployment."""
    found: list[tuple[Any, str]] = []
    for spec in specs:
        if COPY_TO not in properties(spec):
            continue
        if not isinstance(spec, UserTask):
            found.append((spec, f"抄送（{COPY_TO}）只能设在用户任务上：该环节办结时抄送"))
            continue
        codes = copy_roles(spec)
        if not codes:
            found.append((spec, f"抄送（{COPY_TO}）为空：请填写角色代码（多个用逗号分隔），或删除该属性"))
        unknown = [code for code in codes if code not in role_codes]
        if unknown:
            found.append((spec, f"抄送（{COPY_TO}）中的“{'、'.join(unknown)}”不是已知的角色代码："
                                "请填写已有岗位（角色）的代码，多个用逗号分隔"))
    return found


def copy_on_completion(rt: Runtime, session: Session, case: Case, task_id: str, step: str, spec: Any,
                       now: datetime) -> None:
    """The completed step's `copyTo` posts, each at its role's level of the case's place; by the system."""
    posts = []
    for code in copy_roles(spec):
        role = rt.reference.role(session, code)
        if role is not None:  # deploying refused unknown codes; a role since removed copies to no one
            posts.append(Post(code, org_for_role(case, role)))
    if posts:
        _record(session, case, task_id, step, posts, None, "", now)


# -- by hand -----------------------------------------------------------------------------------------


def parse_posts(value: Any) -> list[Post]:
    """The posts as a form or the API names them: `[{"role": code, "org_id": id}, …]`, at least one."""
    if not isinstance(value, list) or not value:
        raise ValidationFailed("请选择要抄送的岗位", fields={"posts": ["请选择要抄送的岗位"]})
    if len(value) > MAX_POSTS:
        raise ValidationFailed(f"一次最多抄送 {MAX_POSTS} 个岗位", fields={"posts": [f"最多 {MAX_POSTS} 个"]})
    posts = []
    for entry in value:
        role, org = (entry.get("role"), entry.get("org_id")) if isinstance(entry, dict) else (None, None)
        if not isinstance(role, str) or not role.strip() or isinstance(org, bool) or not isinstance(org, int):
            message = "每个岗位应写成 {\"role\": 角色代码, \"org_id\": 单位 ID}"
            raise ValidationFailed(message, fields={"posts": [message]})
        posts.append(Post(role.strip(), org))
    return list(dict.fromkeys(posts))


def copy_case(rt: Runtime, actor_id: int, task_id: str, posts: Sequence[Post], note: Any) -> list[CaseCopy]:
    """The working holder of `task_id` copies its case to `posts`, each serving the case; all or none."""
    written = reason(note, TaskOperation.COPY, required=False)
    if not posts:
        raise ValidationFailed("请选择要抄送的岗位", fields={"posts": ["请选择要抄送的岗位"]})
    with rt.db.write() as session:
        actor, task, case = lock_task(session, actor_id, task_id)
        ensure_may(actor, TaskOperation.COPY, task, case)
        for post in posts:
            _check_post(rt, session, post, case)
        copied = _copied_at(session, case.id, task.id)
        already = [post for post in posts if post in copied]
        if already:
            raise Conflict(f"本环节已抄送给{'、'.join(_post_names(session, already))}，无需重复抄送")
        return _record(session, case, task.id, task.name, list(posts), actor, written, clock.now())


def _check_post(rt: Runtime, session: Session, post: Post, case: Case) -> None:
    role = rt.reference.role(session, post.role_code)
    holders = session.scalar(select(func.count()).select_from(User).where(
        User.role_code == post.role_code, User.org_id == post.org_id, User.active.is_(True))) if role else 0
    if not holders:
        raise NotFound(f"岗位不存在或没有在职人员（角色“{post.role_code}”，单位 ID {post.org_id}）")
    assert role is not None
    if not access.may_be_copied(post.role_code):
        raise Forbidden(f"“{role.name}”岗位不接收抄送：抄送只发给办理或监督办件的岗位")
    if not access.may_receive_task(role.level, post.org_id, case):
        raise Forbidden(f"“{_post_names(session, [post])[0]}”不在本办件的辖区内：只能抄送给办件所在村、乡镇或县的岗位")


def _copied_at(session: Session, case_id: int, task_id: str) -> set[Post]:
    rows = session.execute(select(CaseCopy.role_code, CaseCopy.org_id).where(
        CaseCopy.case_id == case_id, CaseCopy.task_id == task_id))
    return {Post(row.role_code, row.org_id) for row in rows}


def _post_names(session: Session, posts: Sequence[Post]) -> list[str]:
    """"清水镇 乡镇民政" as the case page names a post."""
    orgs = dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({post.org_id for post in posts}))).all())
    roles = dict(session.execute(select(Role.code, Role.name).where(
        Role.code.in_({post.role_code for post in posts}))).all())
    return [f"{orgs.get(post.org_id, '')} {roles.get(post.role_code, post.role_code)}".strip() for post in posts]


def _record(session: Session, case: Case, task_id: str, step: str, posts: list[Post], actor: Acting | None,
            note: str, now: datetime) -> list[CaseCopy]:
    """One row per post not yet copied at this step, one history event, and a notification to each post's holders."""
    fresh = [post for post in dict.fromkeys(posts) if post not in _copied_at(session, case.id, task_id)]
    if not fresh:
        return []
    rows = [CaseCopy(case_id=case.id, task_id=task_id, step=step, role_code=post.role_code, org_id=post.org_id,
                     copied_by_id=actor.id if actor else None, copied_at=now, note=note) for post in fresh]
    session.add_all(rows)
    session.flush()
    names = _post_names(session, fresh)
    chain.append(session, case, EventKind.CASE_COPIED, actor, now, task_id=task_id, step=step,
                 after={"copied_to": names, "copy_note": note} if note else {"copied_to": names})
    by = actor.display_name if actor else "流程设置"
    for row in rows:
        notify(session, _holders(session, Post(row.role_code, row.org_id)), f"case_copy:{row.id}",
               NOTIFICATION_KIND, f"抄送：{case.case_number}“{step}”", now, case_id=case.id,
               body=f"{by}抄送给本岗位，仅供查阅" + (f"：{note}" if note else ""))
    for row in rows:
        session.expunge(row)
    return rows


def _holders(session: Session, post: Post) -> list[int]:
    return list(session.scalars(select(User.id).where(User.role_code == post.role_code, User.org_id == post.org_id,
                                                      User.active.is_(True))))


# -- 抄送我的 ----------------------------------------------------------------------------------------

_COPIER = User.__table__.alias("copier")
_VILLAGE = OrgUnit.__table__.alias("village")
COPY_ROWS = select(
    CaseCopy.id, CaseCopy.case_id, CaseCopy.task_id, CaseCopy.step, CaseCopy.role_code, CaseCopy.org_id,
    CaseCopy.copied_at, CaseCopy.note, CaseCopy.read_at, Case.case_number, Case.item_code,
    ServiceItem.name.label("item_name"), Case.applicant_name, Case.applicant_id_number, Case.status,
    _VILLAGE.c.name.label("village_name"), _COPIER.c.username.label("copier_username"),
    _COPIER.c.display_name.label("copier_name"),
).select_from(
    CaseCopy.__table__.join(Case, Case.id == CaseCopy.case_id).join(ServiceItem, ServiceItem.code == Case.item_code)
    .join(_VILLAGE, _VILLAGE.c.id == Case.village_id).outerjoin(_COPIER, _COPIER.c.id == CaseCopy.copied_by_id)
)


def posts_of(session: Session, user: Staff) -> set[Post]:
    """The posts whose copies the user reads, with the posts they stand in for read now (an API caller's are not
    loaded)."""
    return {Post(*post) for post in access.copies_readable_by(user, covered_posts(session, user.id))}


def _to(posts: Iterable[Post]) -> ColumnElement[bool]:
    return or_(*(and_(CaseCopy.role_code == post.role_code, CaseCopy.org_id == post.org_id) for post in posts))


def copied_to(session: Session, user: Staff, *, limit: int, offset: int = 0) -> Sequence[Row[Any]]:
    """"抄送我的": the copies to the user's posts, newest first."""
    return session.execute(COPY_ROWS.where(_to(posts_of(session, user)))
                           .order_by(CaseCopy.copied_at.desc(), CaseCopy.id.desc()).limit(limit).offset(offset)).all()


def count(session: Session, user: Staff, *, unread_only: bool = False) -> int:
    statement = select(func.count()).select_from(CaseCopy).where(_to(posts_of(session, user)))
    if unread_only:
        statement = statement.where(CaseCopy.read_at.is_(None))
    return session.scalar(statement) or 0


def copy_row(session: Session, user: Staff, copy_id: int) -> Row[Any]:
    """One copy to the user's posts; another post's copy answers as one that does not exist."""
    row = session.execute(COPY_ROWS.where(CaseCopy.id == copy_id)).first()
    if row is None or Post(row.role_code, row.org_id) not in posts_of(session, user):
        raise NotFound("抄送记录不存在")
    return row


def mark_read(session: Session, user: Staff, copy_id: int, now: datetime) -> Row[Any]:
    """Opened: read for the whole post (its holders share one 抄送我的); the first reading's time is kept."""
    row = copy_row(session, user, copy_id)
    if row.read_at is None:
        session.execute(update(CaseCopy).where(CaseCopy.id == copy_id, CaseCopy.read_at.is_(None))
                        .values(read_at=now))
    return row


def of_case(session: Session, case_id: int) -> Sequence[Row[Any]]:
    """The case's copies for its page, in the order they were made."""
    return session.execute(COPY_ROWS.add_columns(Role.name.label("role_name"), OrgUnit.name.label("org_name"))
                           .join(Role, Role.code == CaseCopy.role_code).join(OrgUnit, OrgUnit.id == CaseCopy.org_id)
                           .where(CaseCopy.case_id == case_id).order_by(CaseCopy.copied_at, CaseCopy.id)).all()
