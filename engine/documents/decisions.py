"""The written decision a case ends with: reasons from the deciding step, its authority, a refusal's rights."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit.chain import Acting
from ..cases.context import Runtime
from ..deadlines import marks
from ..models import Case, Document, OrgUnit
from ..people.jurisdiction import org_for_role
from ..procedures.forms import FORM_PROPERTY, task_form
from ..vocabulary import CaseResult, DocumentKind
from . import issuing

# A form marks the field holding its step's reasons with this schema keyword; forms without one give their
# `*_opinion` fields (the shipped forms' 意见).
REASONS_KEYWORD = "x-reasons"
OPINION_SUFFIX = "_opinion"
REFUSALS = frozenset({DocumentKind.INTAKE_REFUSAL, DocumentKind.REFUSAL_DECISION})
# What a decision grants or refuses, as item.toml's `decision` names it (宅基地: 许可, a licence under 行政许可法);
# 低保 is approved (审核确认) without one.
DEFAULT_ACT = "批准"
NO_REASONS = "（办理环节未填写理由）"
# 行政许可法 §32: an application not accepted is told so in writing, stamped and dated.
INTAKE_BASIS = "《中华人民共和国行政许可法》第三十二条"
KIND_OF_RESULT = {CaseResult.APPROVED: DocumentKind.APPROVAL_DECISION,
                  CaseResult.REJECTED: DocumentKind.REFUSAL_DECISION}
# 行政复议法 (2023 修订) §20: 60 days from knowing of the act; §24: the county government reviews its departments'
# and the towns' acts. 行政诉讼法 §46: 6 months to sue directly; §14 and §18: the basic court where the organ sits.
REVIEW_DAYS, REVIEW_BASIS = 60, "《中华人民共和国行政复议法》第二十条、第二十四条"
LITIGATION_MONTHS, LITIGATION_BASIS = 6, "《中华人民共和国行政诉讼法》第十四条、第十八条、第四十六条"


def reasons_fields(schema: dict[str, Any]) -> list[str]:
    """The fields of a form that hold the reasons a decision gives, in the form's order."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return []
    marked = [name for name, prop in properties.items() if isinstance(prop, dict) and prop.get(REASONS_KEYWORD)]
    return marked or [name for name in properties if name.endswith(OPINION_SUFFIX)]


def post_name(org_name: str, role_name: str) -> str:
    """A post named as a document's sentence names it: 清水镇民政办, 青山县民政局 (not 青山县县民政局)."""
    return org_name + (role_name[1:] if org_name and role_name[:1] == org_name[-1:] else role_name)


def rights(session: Session, case: Case) -> dict[str, Any]:
    """What a refused applicant may do, with the bodies of the case's county and the articles that grant it."""
    county = session.get(OrgUnit, case.county_id)
    name = county.name if county else ""
    return {"review_days": REVIEW_DAYS, "review_body": f"{name}人民政府", "review_basis": REVIEW_BASIS,
            "litigation_months": LITIGATION_MONTHS, "court": f"{name}人民法院", "litigation_basis": LITIGATION_BASIS}


def _deciding_step(forms: dict[str, Any], end: Any) -> tuple[Any, str] | None:
    """The last user step before `end` on the path the case took that entered reasons, and those reasons."""
    task = end.parent
    while task is not None:
        spec = task.task_spec
        if spec.manual:
            form = task_form(forms, spec.extensions.get("properties", {}).get(FORM_PROPERTY))
            text = "\n".join(str(task.data[name]).strip() for name in reasons_fields(form)
                             if str(task.data.get(name) or "").strip())
            if text:
                return task, text
        task = task.parent
    return None


def decided_at(spec: Any) -> str | None:
    """The result a step decides when it is completed (`caseDecision`), or None; the end event that follows does
    not issue the decision again."""
    return marks.properties(spec).get(issuing.DECISION_PROPERTY) or None


def issue_decision(rt: Runtime, session: Session, case: Case, result: str, end: Any, actor: Acting | None,
                   now: datetime) -> Document | None:
    """Issue the decision of a case that ended `approved` or `rejected` at `end` (other results have none), in the
    transaction that completes it, or at a step marked `caseDecision` (`end` is then that step). The deciding post
    is the lane of the step that gave the reasons."""
    kind = KIND_OF_RESULT.get(result)  # type: ignore[call-overload]
    if kind is None:
        return None
    named = end.task_spec.extensions.get("properties", {}).get(issuing.DOCUMENT_PROPERTY)
    if named in issuing.ENDING_KINDS:
        kind = DocumentKind(named)
    if session.scalar(select(Document.id).where(Document.case_id == case.id, Document.kind == str(kind))
                      .limit(1)) is not None:
        return None  # issued at the step that decided it
    version = rt.versions.get(session, case.version_id)
    guide = version.guide
    department = guide.get("department")
    found = _deciding_step(version.forms, end)
    # A drawn procedure whose steps ask for no reasons still gets its decision: the end event's name says the result.
    office_id, post, reasons = case.town_id, "", end.task_spec.bpmn_name or NO_REASONS
    if found is not None:
        task, reasons = found
        role = rt.reference.role(session, task.task_spec.lane)
        if role is not None:
            office_id = org_for_role(case, role)
            office = session.get(OrgUnit, office_id)
            post = post_name(office.name if office else "", role.name)
            if role.level == "county" and not str(department or "").startswith("县"):
                # An item the town decides may end at a county department (宅基地's 农用地转用): that one signs.
                department = role.name
    facts: dict[str, Any] = {"reasons": reasons, "decided_by_post": post or "—", "result": result,
                             "outcome": end.task_spec.bpmn_name or "", "item": guide.get("name", case.item_code)}
    title = None
    if kind == DocumentKind.INTAKE_REFUSAL:
        facts["basis"] = INTAKE_BASIS
    else:
        facts["act"] = act = str(guide.get("decision") or DEFAULT_ACT)
        title = f"{'准予' if kind == DocumentKind.APPROVAL_DECISION else '不予'}{act}决定书"
    if kind in REFUSALS:
        facts["rights"] = rights(session, case)
    return issuing.issue(session, case, kind, facts, actor, now, office_id=office_id, title=title,
                         department=department)
