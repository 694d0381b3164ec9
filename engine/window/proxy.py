"""全程代办: the village agent's 委托, 传递, 回交 and 签收 for a case carried to the town or county, in that order.

The seeds (代办站 工作程序: 受理 → 传递 → 回复; 全程代办: 委托, 受理, 承办, 回交) ask that each step be registered with
who and when (登记台账), that the result be handed back to the applicant and that they confirm it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, exists, select
from sqlalchemy.orm import Session, aliased

from .. import clock
from ..audit import chain
from ..cases.context import Runtime
from ..cases.intake import normal_phone, phone_problem
from ..cases.locking import actor as load_actor
from ..cases.locking import lock_case
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..models import Case, ProxyStep, ServiceItem
from ..people import access
from ..people.access import Placed
from ..vocabulary import CaseStatus, EventKind, ProxyStepKind

MAX_TEXT = 200
SELF = "本人"
NAMES = {ProxyStepKind.ENTRUSTED: "委托", ProxyStepKind.HANDED_OVER: "传递", ProxyStepKind.RETURNED: "回交",
         ProxyStepKind.RECEIVED: "签收"}
EVENTS = {ProxyStepKind.ENTRUSTED: EventKind.PROXY_ENTRUSTED, ProxyStepKind.HANDED_OVER: EventKind.PROXY_HANDED_OVER,
          ProxyStepKind.RETURNED: EventKind.PROXY_RETURNED, ProxyStepKind.RECEIVED: EventKind.PROXY_RECEIVED}


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    required: bool = True


# What the seeds' 登记 names for each step. An empty 委托人 or 签收人 is the applicant (本人), no 递交人 the agent.
FIELDS: dict[str, tuple[Field, ...]] = {
    ProxyStepKind.ENTRUSTED: (Field("principal", "委托人", False), Field("relation", "与申请人关系", False),
                              Field("matter", "委托事项"), Field("phone", "委托人联系电话")),
    ProxyStepKind.HANDED_OVER: (Field("office", "递交单位（窗口）"), Field("method", "递交方式"),
                                Field("carrier", "递交人", False)),
    ProxyStepKind.RETURNED: (Field("handed_back", "回交的批件、证照或决定书"), Field("method", "回交方式", False)),
    ProxyStepKind.RECEIVED: (Field("signed_by", "签收人", False), Field("relation", "与申请人关系", False)),
}


def _text(raw: dict[str, Any], spec: Field, problems: dict[str, list[str]]) -> str:
    value = raw.get(spec.key)
    text = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        problems[spec.key] = [f"{spec.label}应为文字"]
    elif spec.required and not text:
        problems[spec.key] = [f"请填写{spec.label}"]
    elif len(text) > MAX_TEXT:
        problems[spec.key] = [f"{spec.label}不能超过 {MAX_TEXT} 个字"]
    return text


def parse_moment(raw: Any, label: str, now: datetime) -> datetime:
    """When a step happened as entered (北京时间 `YYYY-MM-DDTHH:MM`, or ISO with a zone); now when left empty."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return now
    try:
        moment = datetime.fromisoformat(str(raw).strip())
    except ValueError:
        message = f"{label}格式应为 YYYY-MM-DD HH:MM"
        raise ValidationFailed(message, fields={"at": [message]}) from None
    moment = moment.replace(tzinfo=clock.SHANGHAI) if moment.tzinfo is None else moment
    if moment > now:
        raise ValidationFailed(f"{label}不能晚于现在", fields={"at": [f"{label}不能晚于现在"]})
    return moment


def _details(kind: str, raw: Any, case: Case, actor_name: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ValidationFailed("请求体应为对象")
    problems: dict[str, list[str]] = {}
    values = {spec.key: _text(raw, spec, problems) for spec in FIELDS[kind]}
    if kind == ProxyStepKind.ENTRUSTED and values["phone"]:
        values["phone"] = normal_phone(values["phone"])
        if problem := phone_problem(values["phone"]):
            problems["phone"] = [problem]
    person = "principal" if kind == ProxyStepKind.ENTRUSTED else "signed_by" if kind == ProxyStepKind.RECEIVED else ""
    if person:
        if values[person] in ("", case.applicant_name):
            values[person], values["relation"] = case.applicant_name, SELF
        elif not values["relation"] or values["relation"] == SELF:
            problems["relation"] = [f"{values[person]}不是申请人本人：请填写与申请人{case.applicant_name}的关系"]
    if kind == ProxyStepKind.HANDED_OVER and not values["carrier"]:
        values["carrier"] = actor_name
    if problems:
        details = [text for texts in problems.values() for text in texts]
        raise ValidationFailed(f"{NAMES[kind]}登记有误：" + "；".join(details), details=details, fields=problems)
    return {key: value for key, value in values.items() if value}


def _refusal(kind: str, case: Case, done: list[ProxyStep]) -> str | None:
    """Why this step cannot come now (the seeds' order: 委托, 传递, 回交 after 办结, 签收), or None."""
    first = {step.kind: step for step in reversed(done)}
    if case.status == CaseStatus.CANCELLED:
        return "办件已撤销，不能再登记代办"
    if kind == ProxyStepKind.ENTRUSTED:
        if ProxyStepKind.ENTRUSTED in first:
            step = first[ProxyStepKind.ENTRUSTED]
            who = step.details.get("principal", "")
            return f"该办件已于 {clock.to_minute(step.happened_at)} 登记委托（委托人{who}），不能重复登记"
        return None
    if ProxyStepKind.ENTRUSTED not in first:
        return f"请先登记申请人的委托，再登记{NAMES[kind]}"
    if kind == ProxyStepKind.HANDED_OVER:
        return "办件已办结，无需再传递材料；请登记回交" if case.status == CaseStatus.COMPLETED else None
    if kind == ProxyStepKind.RETURNED:
        if case.status != CaseStatus.COMPLETED:
            return "办件尚未办结，不能回交：乡镇或县级部门办结后，再将结果送交申请人"
        if ProxyStepKind.RETURNED in first:
            return f"办理结果已于 {clock.to_minute(first[ProxyStepKind.RETURNED].happened_at)} 回交申请人，不能重复登记"
        return None
    if ProxyStepKind.RETURNED not in first:
        return "办理结果尚未回交申请人，不能登记签收"
    if ProxyStepKind.RECEIVED in first:
        return f"申请人已于 {clock.to_minute(first[ProxyStepKind.RECEIVED].happened_at)} 签收，不能重复登记"
    return None


def record(rt: Runtime, actor_id: int, case_id: int, kind: str, raw: Any) -> ProxyStep:
    """Record one 代办 step of the case by the agent of its village; refused out of order with the reason."""
    if kind not in FIELDS:
        raise NotFound("没有这一代办环节")
    with rt.db.write() as session:
        actor = load_actor(session, actor_id)
        case = lock_case(session, case_id)
        if not access.may_see_case(actor, case):
            raise NotFound("办件不存在")
        if not access.may_record_proxy(actor, case):
            raise Forbidden("只有申请人所在村（社区）的代办员可以登记代办")
        done = steps(session, case.id)
        refused = _refusal(kind, case, done)
        if refused:
            raise Conflict(refused)
        details = _details(kind, raw, case, actor.display_name)
        now = clock.now()
        label = f"{NAMES[kind]}时间"
        happened = parse_moment(raw.get("at") if isinstance(raw, dict) else None, label, now)
        floor = max([step.happened_at for step in done], default=None)
        if kind == ProxyStepKind.RETURNED and case.completed_at:
            floor = max(floor, case.completed_at) if floor else case.completed_at
        if floor and happened < floor:
            message = f"{label}不能早于上一环节（{clock.to_minute(floor)}）"
            raise ValidationFailed(message, fields={"at": [message]})
        step = ProxyStep(case_id=case.id, kind=kind, happened_at=happened, recorded_at=now,
                         recorded_by_id=actor.id, details=details)
        session.add(step)
        session.flush()
        chain.append(session, case, EVENTS[kind], actor, now, step=f"代办·{NAMES[kind]}",
                     after={**details, "happened_at": clock.to_minute(happened)})
        session.refresh(step)
        session.expunge(step)
        return step


# -- reading ---------------------------------------------------------------------------------------


def steps(session: Session, case_id: int) -> list[ProxyStep]:
    return list(session.scalars(select(ProxyStep).where(ProxyStep.case_id == case_id)
                                .order_by(ProxyStep.happened_at, ProxyStep.id)))


@dataclass(frozen=True)
class Progress:
    """A case's 代办 record as its page and the API show it: the steps, and which may be recorded next."""

    steps: list[ProxyStep]
    allowed: list[str]

    @property
    def entrusted(self) -> bool:
        return any(step.kind == ProxyStepKind.ENTRUSTED for step in self.steps)


def progress(session: Session, case: Case) -> Progress:
    done = steps(session, case.id)
    return Progress(done, [kind for kind in FIELDS if _refusal(kind, case, done) is None])


_RETURNED = aliased(ProxyStep)


def awaiting_return(session: Session, user: Placed, limit: int) -> Sequence[Row[Any]]:
    """待回交: the agent's village's 代办 cases completed whose result has not been handed back, oldest first."""
    entrusted = exists().where(ProxyStep.case_id == Case.id, ProxyStep.kind == ProxyStepKind.ENTRUSTED)
    returned = exists().where(and_(_RETURNED.case_id == Case.id, _RETURNED.kind == ProxyStepKind.RETURNED))
    return session.execute(
        select(Case.id, Case.case_number, Case.applicant_name, Case.completed_at, Case.result,
               ServiceItem.name.label("item_name"))
        .join(ServiceItem, ServiceItem.code == Case.item_code)
        .where(access.proxy_cases_of(user), Case.status == CaseStatus.COMPLETED, entrusted, ~returned)
        .order_by(Case.completed_at, Case.id).limit(limit)).all()
