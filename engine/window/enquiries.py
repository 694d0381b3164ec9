"""首问负责: enquiries registered at the window (便民服务事项登记表), answered by their owner or handed on by 转办.

Whoever first receives a citizen owns what they asked until they answer it or hand it to the post it belongs to;
that post's holders see it waiting and the one who takes it becomes its owner (二七区 代办站工作制度 附件1 第1条).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, Row, false, func, or_, select
from sqlalchemy.orm import Session

from .. import clock
from ..cases.context import Runtime
from ..cases.intake import VILLAGE, normal_phone, phone_problem
from ..cases.locking import actor as load_actor
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..models import Enquiry, OrgUnit, Role, User
from ..people import access
from ..people.jurisdiction import Actor, covered_posts
from ..vocabulary import EnquiryStatus

MAX_NAME, MAX_MATTER = 30, 1000
_VILLAGES, _TOWNS = OrgUnit.__table__.alias("village"), OrgUnit.__table__.alias("town")
VILLAGE_ROWS = select(
    _VILLAGES.c.code, _VILLAGES.c.name, _VILLAGES.c.id.label("village_id"), _TOWNS.c.id.label("town_id"),
    _TOWNS.c.parent_id.label("county_id"), _TOWNS.c.name.label("town_name"),
).select_from(_VILLAGES.join(_TOWNS, _TOWNS.c.id == _VILLAGES.c.parent_id)).where(
    _VILLAGES.c.level == "village").order_by(_VILLAGES.c.code)
# 004 (村级政务服务 首问责任制): the first receiver "负责做好解答、引导办理或受理工作".
ANSWER_METHODS = ("当面解答", "电话解答", "引导办理", "受理申请")
SCOPES = ("mine", "post", "place")


def _text(raw: dict[str, Any], key: str, label: str, limit: int, problems: dict[str, list[str]]) -> str:
    value = raw.get(key)
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        problems[key] = [f"请填写{label}"]
    elif len(text) > limit:
        problems[key] = [f"{label}不能超过 {limit} 个字"]
    return text


def _refuse(problems: dict[str, list[str]], what: str) -> None:
    if problems:
        details = [text for texts in problems.values() for text in texts]
        raise ValidationFailed(f"{what}有误：" + "；".join(details), details=details, fields=problems)


def _answer(raw: dict[str, Any], problems: dict[str, list[str]]) -> tuple[str, str]:
    method = raw.get("answer_method")
    if method not in ANSWER_METHODS:
        problems["answer_method"] = ["答复方式应为：" + "、".join(ANSWER_METHODS)]
    return str(method or ""), _text(raw, "answer", "答复内容", MAX_MATTER, problems)


def _note(who: Actor | User, action: str, **more: Any) -> dict[str, Any]:
    return {"at": clock.now().isoformat(), "by": who.display_name, "action": action, **more}


def _trail(enquiry: Enquiry, entry: dict[str, Any]) -> None:
    enquiry.trail = [*(enquiry.trail or []), entry]  # a new list, so the JSON column is written


def register(rt: Runtime, actor_id: int, raw: Any) -> Enquiry:
    """登记: the registering clerk owns it at their post; with an answer given on the spot it is answered at once."""
    if not isinstance(raw, dict):
        raise ValidationFailed("请求体应为对象")
    problems: dict[str, list[str]] = {}
    name = _text(raw, "person_name", "来访人姓名", MAX_NAME, problems)
    contact = normal_phone(str(raw.get("contact") or ""))
    if problem := phone_problem(contact):
        problems["contact"] = [problem]
    matter = _text(raw, "matter", "咨询或办理事项", MAX_MATTER, problems)
    answered = bool(raw.get("answer") or raw.get("answer_method"))
    method, answer = _answer(raw, problems) if answered else ("", "")
    with rt.db.write() as session:
        actor = load_actor(session, actor_id)
        if not access.may_register_enquiry(actor):
            raise Forbidden("电子监察、审计和系统管理员不接待群众，不能登记咨询")
        place = session.connection().execute(VILLAGE, {"code": str(raw.get("village") or "")}).first()
        if place is None or place.level != "village" or place.county_id is None:
            problems["village"] = ["请选择来访人所在的村（社区）"]
        elif not access.may_see_case(actor, place):
            problems["village"] = ["该村（社区）不在您的辖区内"]
        _refuse(problems, "登记")
        assert place is not None
        now = clock.now()
        enquiry = Enquiry(
            registered_at=now, registered_by_id=actor.id, village_id=place.village_id, town_id=place.town_id,
            county_id=place.county_id, person_name=name, contact=contact or "", matter=matter,
            status=EnquiryStatus.OPEN, post_role_code=actor.role_code, post_org_id=actor.org_id, owner_id=actor.id,
            trail=[_note(actor, "登记")])
        if answered:
            _close(enquiry, actor, method, answer)
        session.add(enquiry)
        session.flush()
        return _loaded(session, enquiry.id)


def _close(enquiry: Enquiry, actor: Actor, method: str, answer: str) -> None:
    enquiry.status, enquiry.answer_method, enquiry.answer = EnquiryStatus.ANSWERED, method, answer
    enquiry.answered_by_id, enquiry.answered_at = actor.id, clock.now()
    _trail(enquiry, _note(actor, "答复", method=method))


def _locked(session: Session, actor_id: int, enquiry_id: int) -> tuple[Actor, Enquiry]:
    actor = load_actor(session, actor_id)
    enquiry = session.scalar(select(Enquiry).where(Enquiry.id == enquiry_id).with_for_update(of=Enquiry),
                             execution_options={"populate_existing": True})
    if enquiry is None:
        raise NotFound("咨询登记不存在")
    if not access.may_see_enquiry(actor, enquiry):
        actor = replace(actor, covers=covered_posts(session, actor.id))
        if not access.may_see_enquiry(actor, enquiry):
            raise NotFound("咨询登记不存在")
    if enquiry.status == EnquiryStatus.ANSWERED:
        who = enquiry.answered_by.display_name if enquiry.answered_by else "他人"
        raise Conflict(f"该咨询已由{who}于 {clock.to_minute(enquiry.answered_at)} 答复，无需再办理")
    return actor, enquiry


def _owner_only(actor: Actor, enquiry: Enquiry) -> None:
    if access.may_answer_enquiry(actor, enquiry):
        return
    if enquiry.owner_id is None:
        raise Conflict(f"该咨询已转办至{enquiry.post_org.name}{enquiry.post_role.name}，须由该岗位人员接办后办理")
    owner = enquiry.owner.display_name if enquiry.owner else "他人"
    raise Forbidden(f"该咨询由{owner}首问负责，只有负责人可以答复或转办")


def answer(rt: Runtime, actor_id: int, enquiry_id: int, raw: Any) -> Enquiry:
    problems: dict[str, list[str]] = {}
    method, text = _answer(raw if isinstance(raw, dict) else {}, problems)
    with rt.db.write() as session:
        actor, enquiry = _locked(session, actor_id, enquiry_id)
        _owner_only(actor, enquiry)
        _refuse(problems, "答复")
        _close(enquiry, actor, method, text)
        session.flush()
        return _loaded(session, enquiry.id)


def transfer(rt: Runtime, actor_id: int, enquiry_id: int, role_code: Any, org_id: Any, note: Any) -> Enquiry:
    """转办 to a post serving the person's place; the owner answers for it until a holder there takes it."""
    remark = note.strip() if isinstance(note, str) else ""
    if len(remark) > MAX_MATTER:
        raise ValidationFailed(f"转办说明不能超过 {MAX_MATTER} 个字", fields={"note": [f"不能超过 {MAX_MATTER} 个字"]})
    with rt.db.write() as session:
        actor, enquiry = _locked(session, actor_id, enquiry_id)
        _owner_only(actor, enquiry)
        role = session.get(Role, role_code) if isinstance(role_code, str) else None
        org = session.get(OrgUnit, org_id) if isinstance(org_id, int) and not isinstance(org_id, bool) else None
        if role is None or org is None or role.level != org.level or role.code in access.DESK_ROLES \
                or not access.may_receive_enquiry(role.level, org.id, enquiry):
            message = "请选择来访人所在村（社区）、乡镇或县的一个岗位"
            raise ValidationFailed(message, fields={"post": [message]})
        if (role.code, org.id) == (enquiry.post_role_code, enquiry.post_org_id):
            raise ValidationFailed("该咨询已在这一岗位，无需转办", fields={"post": ["该咨询已在这一岗位"]})
        enquiry.post_role_code, enquiry.post_org_id = role.code, org.id
        enquiry.owner_id, enquiry.status = None, EnquiryStatus.TRANSFERRED
        _trail(enquiry, _note(actor, "转办", to=f"{org.name} · {role.name}", note=remark))
        session.flush()
        return _loaded(session, enquiry.id)


def take(rt: Runtime, actor_id: int, enquiry_id: int) -> Enquiry:
    """接办: a holder of the receiving post becomes the owner (首问负责 passes with it)."""
    with rt.db.write() as session:
        actor, enquiry = _locked(session, actor_id, enquiry_id)
        if enquiry.owner_id is not None:
            owner = enquiry.owner.display_name if enquiry.owner else "他人"
            raise Conflict(f"该咨询由{owner}负责，无需接办")
        if not access.may_take_enquiry(actor, enquiry):
            post = f"{enquiry.post_org.name}{enquiry.post_role.name}"
            raise Forbidden(f"该咨询已转办至{post}，只有该岗位在岗人员可以接办")
        enquiry.owner_id, enquiry.status = actor.id, EnquiryStatus.OPEN
        _trail(enquiry, _note(actor, "接办"))
        session.flush()
        return _loaded(session, enquiry.id)


# -- reading ---------------------------------------------------------------------------------------


def _loaded(session: Session, enquiry_id: int) -> Enquiry:
    found = session.get(Enquiry, enquiry_id, populate_existing=True)
    assert found is not None
    session.expunge(found)
    return found


def _scope(user: access.Staff, scope: str) -> ColumnElement[bool]:
    post = (Enquiry.post_role_code == user.role_code) & (Enquiry.post_org_id == user.org_id)
    if scope == "mine":
        return (Enquiry.owner_id == user.id) & (Enquiry.status != EnquiryStatus.ANSWERED)
    if scope == "post":
        return post & Enquiry.owner_id.is_(None)
    place = {"village": Enquiry.village_id, "town": Enquiry.town_id, "county": Enquiry.county_id}.get(user.org_level)
    return or_(Enquiry.registered_by_id == user.id, Enquiry.owner_id == user.id, post,
               place == user.org_id if place is not None else false())


def listing(session: Session, user: access.Staff, scope: str, limit: int) -> Sequence[Enquiry]:
    """mine: open ones I own; post: handed to my post, waiting to be taken; place: all of my place and mine."""
    return session.scalars(select(Enquiry).where(_scope(user, scope))
                           .order_by(Enquiry.registered_at.desc(), Enquiry.id.desc()).limit(limit)).unique().all()


def count(session: Session, user: access.Staff, scope: str) -> int:
    return session.scalar(select(func.count()).select_from(Enquiry).where(_scope(user, scope))) or 0


def one(session: Session, user: access.Staff, enquiry_id: int) -> Enquiry:
    found = session.get(Enquiry, enquiry_id)
    if found is None or not access.may_see_enquiry(user, found):
        raise NotFound("咨询登记不存在")
    return found


def villages(session: Session, user: access.Staff) -> list[Row[Any]]:
    """The villages whose people the user may register for (`may_see_case` read as for a case of that village)."""
    rows = session.connection().execute(VILLAGE_ROWS).all()
    return [row for row in rows if access.may_see_case(user, row)]
