"""Written documents of a case: issuing each kind with its number and history event, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import clock
from engine.audit import chain as audit
from engine.cases import locking
from engine.config import ROOT, Settings
from engine.documents import issuing, rendering
from engine.documents.decisions import reasons_fields
from engine.errors import DeployRefused, ValidationFailed
from engine.models import Case, CaseEvent
from engine.procedures import bundle
from engine.services import Services
from engine.vocabulary import DocumentKind
from tests.conftest import ARTIFACTS, user_id
from tests.test_concurrency import race
from tests.test_engine import drive, start

RIGHTS = {"review_days": 60, "review_body": "青山县人民政府",
          "review_basis": "《中华人民共和国行政复议法》第二十条、第二十四条",
          "litigation_months": 6, "court": "青山县人民法院",
          "litigation_basis": "《中华人民共和国行政诉讼法》第十四条、第十八条、第四十六条"}
FACTS: dict[DocumentKind, dict[str, Any]] = {
    DocumentKind.RECEIPT: {
        "materials": [{"name": "最低生活保障申请书", "copies": 1, "original": True},
                      {"name": "户口簿复印件", "copies": 2, "original": False}],
        "promised_date": "2026-04-14", "promised_provisional": False, "query_url": "/query",
    },
    DocumentKind.SUPPLEMENT_NOTICE: {
        "missing": [{"name": "家庭成员收入证明", "note": "须由所在单位或村委会出具并盖章"}],
        "received": [{"name": "最低生活保障申请书", "copies": 1}], "received_at": "2026-03-02T09:00:00+08:00",
    },
    DocumentKind.INTAKE_REFUSAL: {"reasons": "申请人户籍不在本镇，不属于本机关受理范围。",
                                  "basis": "《中华人民共和国行政许可法》第三十二条第一款第（二）项"},
    DocumentKind.APPROVAL_DECISION: {"reasons": "经审核，申请人家庭人均收入低于当地保障标准，符合条件。",
                                     "decided_by_post": "青山县民政局", "result": "approved"},
    DocumentKind.REFUSAL_DECISION: {"reasons": "经入户调查，申请人家庭拥有机动车辆，不符合条件。",
                                    "decided_by_post": "青山县民政局", "result": "rejected", "rights": RIGHTS},
}


def issue(svc: Services, case: Case, kind: DocumentKind, username: str, facts: dict[str, Any]) -> Any:
    with svc.db.write() as session:
        actor = locking.actor(session, user_id(svc, username))
        locked = locking.lock_case(session, case.id)
        return issuing.issue(session, locked, kind, facts, actor, clock.now(), department="县民政局")


@pytest.mark.parametrize("kind", list(DocumentKind))
def test_each_kind_is_stored_numbered_and_recorded_in_the_history(services: Services, kind: DocumentKind) -> None:
    case = start(services)
    username = "county_civil" if kind in (DocumentKind.APPROVAL_DECISION, DocumentKind.REFUSAL_DECISION) \
        else "qingshui_window"
    first = issue(services, case, kind, username, FACTS[kind])
    second = issue(services, case, kind, username, FACTS[kind])
    assert first.title == issuing.TITLES[kind]
    prefix = first.number.split("〔")[0]
    assert first.number == f"{prefix}〔2026〕{int(first.number.split('〕')[1][:-1])}号"
    assert int(second.number.split("〕")[1][:-1]) == int(first.number.split("〕")[1][:-1]) + 1
    if kind in issuing.WINDOW_KINDS:
        assert prefix.startswith("清水镇便民") and first.issuer == "清水镇便民服务中心"
    else:
        assert prefix.startswith("青山县民政局") and first.issuer == "青山县民政局"
    with services.db.read() as session:
        assert [d.id for d in issuing.of_case(session, case.id)] == [first.id, second.id]
        events = list(session.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == "document_issued").order_by(CaseEvent.seq)))
        assert audit.verify(session, case.id) == []
    assert events[0].after == {"document_id": first.id, "kind": str(kind), "number": first.number,
                               "facts_sha256": issuing.facts_digest(FACTS[kind])}


def test_facts_missing_from_the_contract_are_refused(services: Services) -> None:
    case = start(services)
    with pytest.raises(ValidationFailed) as raised:
        issue(services, case, DocumentKind.SUPPLEMENT_NOTICE, "qingshui_window", {"missing": [], "received": []})
    assert set(raised.value.fields) == {"missing", "received_at"}


def documents(svc: Services, case_id: int) -> list[Any]:
    with svc.db.read() as session:
        return issuing.of_case(session, case_id)


def test_an_approved_case_gets_the_county_departments_decision_with_the_approvers_opinion(services: Services) -> None:
    final, _ = drive(services, start(services, "MZ-DIBAO"))
    [decision] = documents(services, final.id)
    assert (decision.kind, decision.title, decision.issuer) == ("approval_decision", "准予批准决定书", "青山县民政局")
    assert decision.number.startswith("青山县民政局准〔2026〕")
    # The last step (the village committee's 公示 confirmation) gave no opinion: the county's approval did.
    assert decision.facts["reasons"] == "经核查，情况属实，材料齐全"
    assert decision.facts["decided_by_post"] == "青山县民政局"
    assert "rights" not in decision.facts
    with services.db.read() as session:
        kinds = list(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == final.id)
                                     .order_by(CaseEvent.seq)))[-2:]
    assert kinds == ["document_issued", "case_completed"]


@pytest.mark.parametrize("item,reject_at,issuer", [
    ("MZ-DIBAO", "town_review", "清水镇人民政府"), ("ZR-ZHAIJIDI", "town_review", "清水镇人民政府"),
])
def test_a_refused_case_gets_a_decision_with_reasons_and_the_applicants_rights(
        services: Services, item: str, reject_at: str, issuer: str) -> None:
    final, _ = drive(services, start(services, item), reject_at=reject_at)
    assert final.result == "rejected"
    [decision] = documents(services, final.id)
    assert (decision.kind, decision.issuer) == ("refusal_decision", issuer)
    assert decision.title == ("不予许可决定书" if item == "ZR-ZHAIJIDI" else "不予批准决定书")
    assert decision.facts["reasons"] == "经核查，情况属实，材料齐全"
    assert decision.facts["rights"] == RIGHTS


def test_a_case_refused_at_intake_gets_the_windows_notice_where_its_end_event_names_it(services: Services) -> None:
    final, _ = drive(services, start(services, "ZR-ZHAIJIDI"), reject_at="intake")
    [notice] = documents(services, final.id)
    assert (notice.kind, notice.title, notice.issuer) == ("intake_refusal", "不予受理通知书", "清水镇便民服务中心")
    assert notice.number.startswith("清水镇便民不受〔2026〕")
    assert notice.facts["basis"] == "《中华人民共和国行政许可法》第三十二条" and notice.facts["rights"] == RIGHTS


def test_a_form_names_its_reasons_field_with_a_schema_keyword() -> None:
    marked = {"properties": {"town_opinion": {"type": "string"}, "why": {"type": "string", "x-reasons": True}}}
    assert reasons_fields(marked) == ["why"]
    assert reasons_fields({"properties": {"town_opinion": {}, "note": {}}}) == ["town_opinion"]


SCREENSHOTS = {DocumentKind.RECEIPT: 90, DocumentKind.SUPPLEMENT_NOTICE: 91, DocumentKind.INTAKE_REFUSAL: 92,
               DocumentKind.APPROVAL_DECISION: 93, DocumentKind.REFUSAL_DECISION: 94}


def pdf_text(path: Path) -> str:
    """The PDF's text as pdftotext reads it, without the line breaks and spaces layout puts in."""
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True).stdout
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("kind", list(DocumentKind))
def test_each_kinds_pdf_reads_as_issued_and_renders_again_to_the_same_text(
        services: Services, kind: DocumentKind, tmp_path: Path) -> None:
    case = start(services, name="欧阳晓明")
    document = issue(services, case, kind, "qingshui_window", FACTS[kind])
    path = rendering.pdf_file(services.db, document.id, tmp_path, clear=True)
    text = pdf_text(path)
    assert case.case_number in text and document.number in text and "欧阳晓明" in text
    assert case.applicant_id_number in text
    for reasons in [FACTS[kind].get("reasons")] + [row["name"] for row in FACTS[kind].get("missing", [])]:
        assert reasons is None or re.sub(r"\s+", "", reasons) in text
    refusal = kind == DocumentKind.REFUSAL_DECISION
    assert ("行政复议" in text and "60日内" in text and "行政诉讼" in text and "6个月内" in text) == refusal
    if refusal:
        assert "行政复议法》第二十条" in text and "行政诉讼法》第十四条、第十八条、第四十六条" in text
    with services.db.read() as session:
        stored = session.get(type(document), document.id)
    assert stored.pdf_sha256 is not None
    # The cache is used; a lost cache renders the same text again, and the issued digest stays.
    assert rendering.pdf_file(services.db, document.id, tmp_path, clear=True) == path
    path.unlink()
    again = rendering.pdf_file(services.db, document.id, tmp_path, clear=True)
    assert pdf_text(again) == text
    # Staff who do not handle the case get a copy with the ID number masked but for its first 6 and last 4.
    masked = pdf_text(rendering.pdf_file(services.db, document.id, tmp_path, clear=False))
    number = case.applicant_id_number
    assert number not in masked and f"{number[:6]}********{number[-4:]}" in masked
    if services.db.is_sqlite:
        ARTIFACTS.mkdir(exist_ok=True)
        target = ARTIFACTS / f"{SCREENSHOTS[kind]}-document-{kind.replace('_', '-')}"
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(again), str(target)], check=True)


def test_a_refused_cases_pdf_carries_its_reasons_and_rights(services: Services, tmp_path: Path) -> None:
    final, _ = drive(services, start(services, "ZR-ZHAIJIDI"), reject_at="town_review")
    [decision] = documents(services, final.id)
    text = pdf_text(rendering.pdf_file(services.db, decision.id, tmp_path, clear=True))
    assert final.case_number in text and "经核查，情况属实，材料齐全" in text
    assert "清水镇人民政府" in text and "60日内向青山县人民政府申请行政复议" in text
    assert "6个月内向青山县人民法院提起行政诉讼" in text


def test_a_diagram_naming_an_unknown_ending_document_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "zhaijidi"
    shutil.copytree(ROOT / "bpmn" / "zhaijidi", folder)
    diagram = folder / "process.bpmn"
    diagram.write_text(diagram.read_text("utf-8").replace('value="intake_refusal"', 'value="intake_refused"'), "utf-8")
    roles = {"village_agent", "village_committee", "town_window", "town_agriculture", "town_land", "town_planning",
             "town_leader", "county_natural_resources"}
    with pytest.raises(DeployRefused) as caught:
        bundle.read_folder(folder, roles, Settings.max_diagram_bytes)
    [problem] = caught.value.problems
    assert problem.element_id == "EndEvent_rejected_intake" and "intake_refused" in problem.message


def test_a_step_deciding_a_result_the_engine_has_no_decision_for_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "zhaijidi"
    shutil.copytree(ROOT / "bpmn" / "zhaijidi", folder)
    diagram = folder / "process.bpmn"
    text = diagram.read_text("utf-8")
    assert 'name="caseDecision" value="approved"' in text
    diagram.write_text(text.replace('name="caseDecision" value="approved"', 'name="caseDecision" value="granted"'),
                       "utf-8")
    roles = {"village_agent", "village_committee", "town_window", "town_agriculture", "town_land", "town_planning",
             "town_leader", "county_natural_resources"}
    with pytest.raises(DeployRefused) as caught:
        bundle.read_folder(folder, roles, Settings.max_diagram_bytes)
    [problem] = caught.value.problems
    assert problem.element_id == "issue_licences" and "“granted”无效" in problem.message


def test_clerks_issuing_at_once_on_different_cases_get_distinct_consecutive_numbers(services: Services) -> None:
    cases = [start(services) for _ in range(4)]
    issued, errors = race([lambda case=case: issue(services, case, DocumentKind.RECEIPT, "qingshui_window",
                                                   FACTS[DocumentKind.RECEIPT]) for case in cases])
    assert errors == []
    numbers = sorted(int(document.number.split("〕")[1][:-1]) for document in issued)
    assert numbers == list(range(numbers[0], numbers[0] + 4))
