"""会签/或签: a user task the diagram gives to several posts; their signer rows, each signature, the tally that
completes the step once it is decided, and what the case page and the API show of every signing (会签 and 加签)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..audit import chain
from ..audit.chain import Acting
from ..db import queue_update
from ..documents.decisions import reasons_fields
from ..errors import Conflict, StepFailed
from ..models import OrgUnit, Role, Task, User
from ..people.access import DESK_ROLES
from ..people.jurisdiction import org_for_role
from ..procedures.forms import FORM_PROPERTY, declared_fields, task_form
from ..vocabulary import Arrival, EventKind, TaskStatus

if TYPE_CHECKING:
    from ..cases.context import Runtime
    from ..cases.locking import TaskRecord
    from ..procedures.spiff import LoadedVersion

# The user task's spiffworkflow:properties: who signs, how many must approve, and which answer is an approval.
MODE, RATIO, POSTS, FIELD, APPROVE = "signMode", "signRatio", "signPosts", "signField", "signApprove"
SIGN_PROPERTIES = (MODE, RATIO, POSTS, FIELD, APPROVE)
ALL, ANY, SHARE = "all", "any", "ratio"
MODES = (ALL, ANY, SHARE)
RATIO_TEXT = re.compile(r"^\s*(\d{1,3})\s*/\s*(\d{1,3})\s*$")
TASKS = Task.__table__
SIGNERS = select(TASKS.c.id, TASKS.c.status, TASKS.c.answer).where(TASKS.c.signing_for == bindparam("task_id"))


@dataclass(frozen=True)
class SignRule:
    """A step signed by several posts: all of them (会签), any one (或签) or a share of them (`ratio`, 2 of 3)."""

    mode: str
    posts: tuple[str, ...]
    field: str
    approve: str
    ratio: tuple[int, int] | None = None

    def needed(self, count: int) -> int:
        """How many of `count` signers must approve: all, one, or the ratio's share rounded up."""
        if self.mode == ALL:
            return count
        if self.mode == ANY:
            return min(1, count)
        numerator, denominator = self.ratio or (1, 1)
        return -(-count * numerator // denominator)

    def outcome(self, count: int, approvals: int, refusals: int) -> bool | None:
        """Approved, refused (approval can no longer be reached), or None while it is still open."""
        needed = self.needed(count)
        if approvals >= needed:
            return True
        if refusals > count - needed:
            return False
        return None

    @property
    def ratio_text(self) -> str | None:
        return f"{self.ratio[0]}/{self.ratio[1]}" if self.ratio else None


def _ratio(text: str | None) -> tuple[int, int] | None:
    found = RATIO_TEXT.match(text or "")
    if not found:
        return None
    numerator, denominator = int(found[1]), int(found[2])
    return (numerator, denominator) if 0 < numerator <= denominator else None


def _codes(text: str | None) -> list[str]:
    return [code.strip() for code in (text or "").replace("，", ",").split(",") if code.strip()]


def _properties(spec: Any) -> dict[str, str]:
    return spec.extensions.get("properties", {}) if getattr(spec, "extensions", None) else {}


def rule(spec: Any) -> SignRule | None:
    """The step's sign-off, as deploying let it through; None for a step one post handles."""
    props = _properties(spec)
    if props.get(MODE) not in MODES:
        return None
    return SignRule(props[MODE], tuple(_codes(props.get(POSTS))), props.get(FIELD, ""), props.get(APPROVE, ""),
                    _ratio(props.get(RATIO)) if props[MODE] == SHARE else None)


# -- deploying ---------------------------------------------------------------------------------------------------


def problems(specs: list[Any], forms: Mapping[str, Any], role_codes: set[str]) -> list[tuple[Any, str]]:
    """Every sign-off property a user task of the diagram gets wrong, with the task (elsewhere they are refused by
    where they are: `engine.procedures.checks`)."""
    return [(spec, message) for spec in specs if isinstance(spec, UserTask)
            and any(name in _properties(spec) for name in SIGN_PROPERTIES)
            for message in _task_problems(_properties(spec), forms, role_codes)]


def _task_problems(props: dict[str, str], forms: Mapping[str, Any], role_codes: set[str]) -> list[str]:
    mode = props.get(MODE)
    if mode is None:
        return ["设了会签属性，但没有 signMode：应为 all（会签，全部同意）、any（或签，一个同意即可）"
                "或 ratio（按比例）"]
    if mode not in MODES:
        return [f"signMode 的值“{mode}”无效，应为 all（会签，全部同意）、any（或签，一个同意即可）或 ratio（按比例，"
                "另用 signRatio 写明比例，如 2/3）"]
    found: list[str] = []
    if mode == SHARE and not props.get(RATIO):
        found.append("signMode 为 ratio（按比例）时，须用 signRatio 写明同意的比例，如 2/3")
    elif mode != SHARE and RATIO in props:
        found.append(f"signRatio 只在 signMode 为 ratio 时有效；“{mode}”不用比例，请删除 signRatio")
    elif mode == SHARE and _ratio(props[RATIO]) is None:
        found.append(f"signRatio“{props[RATIO]}”无效：应写成“同意数/岗位数”，如 2/3；分子须大于 0 且不大于分母")
    found += _post_problems(_codes(props.get(POSTS)), role_codes)
    found += _field_problems(props, forms)
    return found


def _post_problems(codes: list[str], role_codes: set[str]) -> list[str]:
    if not codes:
        return ["会签须用 signPosts 列出签署的岗位（角色代码，用逗号分隔），如 town_civil_affairs,town_leader"]
    found = [f"signPosts 中的“{code}”不是已知的角色代码" for code in dict.fromkeys(codes) if code not in role_codes]
    found += [f"signPosts 中的“{code}”是电子监察、审计或系统管理岗位，不签署办件" for code in dict.fromkeys(codes)
              if code in DESK_ROLES]
    repeated = sorted({code for code in codes if codes.count(code) > 1})
    if repeated:
        found.append(f"signPosts 中的“{'、'.join(repeated)}”重复列出")
    if len(set(codes)) < 2:
        found.append("会签至少要有两个岗位；只由一个岗位办理的环节，请放在该岗位的泳道中，不设会签")
    return found


def _field_problems(props: dict[str, str], forms: Mapping[str, Any]) -> list[str]:
    name, approve = props.get(FIELD), props.get(APPROVE)
    form_file = props.get(FORM_PROPERTY)
    if not name:
        return ["会签须用 signField 指明表单中记录每位签署人结论的字段，如 town_decision"]
    if not form_file:
        return ["会签环节须有表单（formJsonSchemaFilename），signField 指明其中记录结论的字段"]
    schema = forms.get(form_file)
    if not isinstance(schema, dict):
        return []  # the missing or invalid form is reported with the user task already
    if name not in declared_fields(schema):
        return [f"signField“{name}”不是表单 {form_file} 中的字段"]
    found: list[str] = []
    if name not in (schema.get("required") or []):
        found.append(f"signField“{name}”须是表单 {form_file} 的必填字段：每位签署人都要给出结论")
    options = _options(schema, name)
    if not approve:
        found.append("会签须用 signApprove 写明 signField 中表示同意的取值" +
                     (f"（可选：{'、'.join(map(str, options))}）" if options else "，如 approve"))
    elif options and approve not in options:
        found.append(f"signApprove“{approve}”不是字段“{name}”的可选值（可选：{'、'.join(map(str, options))}）")
    return found


def _options(schema: dict[str, Any], name: str) -> list[Any]:
    prop = (schema.get("properties") or {}).get(name)
    if not isinstance(prop, dict):
        return []
    return [option.get("const") for option in prop.get("oneOf", []) if isinstance(option, dict)] or \
        list(prop.get("enum") or [])


# -- running -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """A signer row to open beside a sign-off step's own row, and its post's name for the history."""

    row: dict[str, Any]
    role_name: str


@dataclass(frozen=True)
class Decided:
    """A signing that decides its workflow task: complete it with `answer` (the deciding signer's)."""

    task_id: str
    answer: dict[str, Any]


def signers(rt: Runtime, session: Session, case: Any, held: dict[str, Any], spec: Any) -> list[Signer]:
    """The signer rows of a sign-off step whose own row is `held`, one per post of signPosts: each routed to the
    post serving the case at its role's level, like a lane; none for a step one post handles."""
    found = rule(spec)
    if found is None:
        return []
    rows = []
    for code in found.posts:
        role = rt.reference.role(session, code)
        if role is None:
            # Deploying checks the codes; a role deleted since cannot route, like an unknown lane.
            raise StepFailed(f"环节“{held['name']}”的会签岗位“{code}”不是已知角色，无法分派", element=held["name"])
        rows.append(Signer({**held, "id": str(uuid4()), "role_code": role.code, "org_id": org_for_role(case, role),
                            "status": TaskStatus.OPEN, "assignee_id": None, "arrival": Arrival.SIGN_OFF,
                            "arrival_note": None, "arrival_by_id": None, "signing_for": held["id"],
                            "sign_position": None, "answer": None}, role.name))
    return rows


def sign(session: Session, case: Any, spec: Any, task: TaskRecord, actor: Acting, data: dict[str, Any],
         now: datetime) -> Decided | None:
    """Record one signer's (checked) answer to a sign-off step; once the outcome is decided, the late signers'
    rows are cancelled and the step is to be completed with the deciding answer."""
    found = rule(spec)
    if found is None or task.signing_for is None:
        raise Conflict("该环节已不是会签环节（办件可能已迁移到新版本），请联系系统管理员")
    rows = session.execute(SIGNERS, {"task_id": task.signing_for}).all()
    # This signer's own row is still read as open: its answer counts from here.
    answers = [row.answer or {} for row in rows if row.status == TaskStatus.COMPLETED and row.id != task.id]
    answers.append(data)
    approvals = sum(1 for answer in answers if answer.get(found.field) == found.approve)
    count = len(rows)
    outcome = found.outcome(count, approvals, len(answers) - approvals)
    signed(session, case, task, actor, data, now)
    if outcome is None:
        return None
    why = (f"会签已有结果（{len(answers)} 个岗位已签署，同意 {approvals} 个）："
           f"{'已达到通过所需' if outcome else '已不可能达到通过所需'}的 {found.needed(count)} 个同意，无需再签")
    for row in rows:
        if row.status == TaskStatus.OPEN and row.id != task.id:
            queue_update(session, TASKS, row.id, status=TaskStatus.CANCELLED)
            chain.append(session, case, EventKind.TASK_CANCELLED, actor, now, task_id=row.id, step=task.name,
                         after={"why": why})
    return Decided(task.signing_for, data)


def signed(session: Session, case: Any, task: TaskRecord, actor: Acting, data: dict[str, Any], now: datetime) -> None:
    """A signer's row done with their answer, on the record (会签 and 加签 alike)."""
    queue_update(session, TASKS, task.id, status=TaskStatus.COMPLETED, completed_at=now, completed_by_id=actor.id,
                 assignee_id=task.assignee_id or actor.id, answer=data)
    chain.append(session, case, EventKind.TASK_SIGNED, actor, now, task_id=task.id, step=task.name, after=data)


# -- what the case page and the API show -------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """One signer's share: their post, and once signed who signed, when, and what."""

    task_id: str
    role_code: str
    role_name: str
    org_id: int
    org_name: str
    status: str
    signed_by: str | None
    signed_at: datetime | None
    answer: dict[str, Any] | None
    # The value of the decision field, whether it approves (None for 加签: its form says no approving value),
    # and the opinion fields' text.
    decision: Any
    approved: bool | None
    opinion: str
    position: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Signing:
    """One round of signing a workflow task: a sign-off step (会签/或签/比例) or a signer added to it (加签)."""

    task_id: str
    step: str
    element_id: str
    form_file: str | None
    kind: str  # all, any, ratio (会签), before or after (加签)
    status: str  # the workflow task's row: held while signing, then completed or cancelled
    opened_at: datetime
    ratio: str | None
    needed: int
    approvals: int
    refusals: int
    outcome: bool | None
    decision_field: str | None
    holder: str | None
    signatures: list[Signature] = field(default_factory=list)

    @property
    def signed(self) -> int:
        return sum(1 for signature in self.signatures if signature.status == TaskStatus.COMPLETED)

    @property
    def total(self) -> int:
        return len(self.signatures)

    @property
    def waiting(self) -> list[Signature]:
        return [s for s in self.signatures if s.status in (TaskStatus.OPEN, TaskStatus.PENDING)]


_SIGNER, _HOLDER = User.__table__.alias("signer"), User.__table__.alias("holder")
ROUND_ROWS = select(
    TASKS.c.id, TASKS.c.name, TASKS.c.element_id, TASKS.c.form_file, TASKS.c.status, TASKS.c.created_at,
    TASKS.c.completed_at, TASKS.c.signing_for, TASKS.c.sign_position, TASKS.c.answer, TASKS.c.arrival_note,
    TASKS.c.role_code, TASKS.c.org_id, Role.__table__.c.name.label("role_name"),
    OrgUnit.__table__.c.name.label("org_name"), _SIGNER.c.display_name.label("completed_by"),
    _HOLDER.c.display_name.label("holder"),
).select_from(
    TASKS.join(Role.__table__, Role.__table__.c.code == TASKS.c.role_code)
    .join(OrgUnit.__table__, OrgUnit.__table__.c.id == TASKS.c.org_id)
    .outerjoin(_SIGNER, _SIGNER.c.id == TASKS.c.completed_by_id)
    .outerjoin(_HOLDER, _HOLDER.c.id == TASKS.c.assignee_id)
).where(TASKS.c.case_id == bindparam("case_id")).order_by(TASKS.c.created_at, TASKS.c.id)


def signings(session: Session, version: LoadedVersion, case_id: int) -> list[Signing]:
    """Every round of signing of the case, in the order they opened: its mode, tally and each signer's share."""
    rows = session.execute(ROUND_ROWS, {"case_id": case_id}).all()
    by_id = {row.id: row for row in rows}
    # A sign-off step's signers sign together; each signer added to a task (加签) is a round of its own.
    rounds: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        if row.signing_for in by_id:
            rounds.setdefault((row.signing_for, row.id if row.sign_position else ""), []).append(row)
    return [_signing(version, by_id[task_id], signer_rows) for (task_id, _), signer_rows in rounds.items()]


def _signing(version: LoadedVersion, step: Any, signer_rows: list[Any]) -> Signing:
    added = signer_rows[0].sign_position
    sign_rule = None if added else rule(_spec(version, step.element_id))
    schema = task_form(version.forms, step.form_file)
    decision_field = sign_rule.field if sign_rule else _choice_field(schema)
    signatures = [_signature(row, schema, sign_rule, decision_field) for row in signer_rows]
    if sign_rule:
        # In the diagram's order of its posts: rows opened together have no order of their own.
        signatures.sort(key=lambda s: sign_rule.posts.index(s.role_code) if s.role_code in sign_rule.posts else 99)
    approvals = sum(1 for s in signatures if s.approved)
    refusals = sum(1 for s in signatures if s.approved is False)
    count = len(signatures)
    return Signing(
        task_id=step.id, step=step.name, element_id=step.element_id, form_file=step.form_file,
        kind=added or (sign_rule.mode if sign_rule else ALL), status=step.status, opened_at=signer_rows[0].created_at,
        ratio=sign_rule.ratio_text if sign_rule else None, needed=sign_rule.needed(count) if sign_rule else count,
        approvals=approvals, refusals=refusals,
        outcome=sign_rule.outcome(count, approvals, refusals) if sign_rule else None,
        decision_field=decision_field, holder=step.holder, signatures=signatures)


def _signature(row: Any, schema: dict[str, Any], sign_rule: SignRule | None, decision_field: str | None) -> Signature:
    answer = row.answer if row.status == TaskStatus.COMPLETED else None
    decision = (answer or {}).get(decision_field) if decision_field else None
    approved = (decision == sign_rule.approve) if sign_rule and answer is not None else None
    opinion = "\n".join(str(answer[name]).strip() for name in reasons_fields(schema)
                        if answer and str(answer.get(name) or "").strip())
    return Signature(row.id, row.role_code, row.role_name, row.org_id, row.org_name, row.status,
                     row.completed_by if answer is not None else None, row.completed_at if answer is not None else None,
                     answer, decision, approved, opinion, row.sign_position,
                     row.arrival_note if row.sign_position else None)


def _choice_field(schema: dict[str, Any]) -> str | None:
    """加签 has no signField: the form's first field with options is its decision (the shipped forms' *_decision)."""
    return next((name for name in (schema.get("properties") or {}) if _options(schema, name)), None)


def _spec(version: LoadedVersion, element_id: str) -> Any:
    spec = version.spec.task_specs.get(element_id)
    if spec is None:
        spec = next((sub.task_specs[element_id] for sub in version.subprocess_specs.values()
                     if element_id in sub.task_specs), None)
    return spec
