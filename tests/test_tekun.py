"""特困人员救助供养 (MZ-TEKUN, formerly 农村五保供养): application by the person or on their behalf, the village's
opinion, the town's 调查核实 and 初审 with a 7-day 公示 in the village, re-investigation on an objection, the
county's 审核确认, the 照料服务协议 for 分散供养 and the certificate; on SQLite and PostgreSQL, and through the API."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine import clock
from engine.audit import chain as audit
from engine.cases.outcomes import Outcome, Window
from engine.errors import ValidationFailed
from engine.idcard import generate_id_number, mask_id_number
from engine.models import Case, Timer
from engine.procedures.deploy import current_version
from engine.services import Services
from tests.conftest import user_id
from tests.procedures import applicant, fill
from tests.test_api import auth, form_data, item, make_client, post_task_for
from tests.test_api import complete as api_complete
from tests.test_clock import pauses, reload
from tests.test_engine import DONGPO, form, holder, open_tasks
from tests.test_intake import documents, reread
from tests.test_webui import login
from webui import create_app

ITEM = "MZ-TEKUN"
STATEMENT = "劳动能力、生活来源、财产状况以及赡养、抚养、扶养情况的书面声明及承诺书"
REPRESENTATIVE = {"applied_by": "other", "representative_name": "欧阳志强",
                  "representative_id_number": generate_id_number("510123", date(1978, 4, 9), 31),
                  "representative_relationship": "侄子"}
ON_BEHALF_FIELDS = ("representative_name", "representative_id_number", "representative_relationship")
REFUSAL = "经入户调查和信息核对，申请人之子在县城务工，月收入4500元，有履行赡养义务的能力，不符合特困人员认定条件"


def application(svc: Services, **fields: Any) -> dict[str, Any]:
    """The application as the person's own (本人申请): no representative."""
    with svc.db.read() as session:
        version = current_version(session, ITEM)
        data = fill(version.forms[version.guide["application_form"]])
    return {name: value for name, value in data.items() if name not in ON_BEHALF_FIELDS} | fields


def apply(svc: Services, data: dict[str, Any] | None = None, window: Window | None = None,
          by: str = "dongpo_agent") -> Case:
    # applicant()'s birth dates run from 1950: 60 or over, as the form's 老年人 requires.
    person = applicant(DONGPO) | {"name": "夏侯秀英"}
    return svc.cases.start_case(user_id(svc, by), ITEM, DONGPO, person, data or application(svc), window).case


def work(svc: Services, case: Case, step: str, decision: str = "approve", **fields: Any) -> None:
    """Complete the case's one open task, which must be `step`, as its post's A holder; a field given as None is
    left out."""
    [task] = open_tasks(svc, case.id)
    assert task.element_id == step
    data = {name: value for name, value in (form(svc, task, decision) | fields).items() if value is not None}
    svc.cases.complete(holder(svc, task), task.id, data)


def steps(svc: Services, case: Case) -> list[tuple[str, str]]:
    return [(task.element_id, task.role_code) for task in open_tasks(svc, case.id)]


def publicity_waiting(svc: Services, case: Case) -> int:
    with svc.db.read() as session:
        return session.scalar(select(func.count()).select_from(Timer).where(
            Timer.case_id == case.id, Timer.status == "waiting")) or 0


def pass_publicity(svc: Services) -> None:
    """The 7 days of the village 公示 (P7D), to the minute."""
    clock.travel(timedelta(days=7))
    assert svc.cases.run_due_timers() >= 1


def through_town(svc: Services, case: Case) -> None:
    """Village opinion, investigation, a favourable 初审 and its 公示 without objection: at the county."""
    work(svc, case, "village_review")
    work(svc, case, "town_investigation")
    work(svc, case, "town_review")
    assert steps(svc, case) == [] and publicity_waiting(svc, case) == 1
    pass_publicity(svc)
    work(svc, case, "publicity_result")
    assert steps(svc, case) == [("county_approval", "county_civil_affairs")]


@pytest.mark.parametrize("mode,after_county", [("dispersed", ["sign_agreement", "issue_certificate"]),
                                               ("centralized", ["issue_certificate"])])
def test_approved_with_publicity_and_the_agreement_only_for_dispersed_support(services: Services, mode: str,
                                                                               after_county: list[str]) -> None:
    case = apply(services)
    # 民发〔2021〕43号: the town's 15 and the county's 10 working days from acceptance on Monday 2 March 2026
    # (清明 on 4–6 April), stricter than the seed's 40.
    assert case.promised_date == date(2026, 4, 7)
    assert steps(services, case) == [("village_review", "village_committee")]
    through_town(services, case)
    work(services, case, "county_approval", support_mode=mode)
    for step in after_county:
        assert [element for element, _ in steps(services, case)] == [step]
        work(services, case, step)
    final = reload(services, case.id)
    assert (final.status, final.result) == ("completed", "approved")
    # The 7-day 公示 is outside the 25 working days: the promised date moved by its five working days.
    assert [(row.reason, row.working_days) for row in pauses(services, case.id)] == [("公示", 5)]
    assert final.promised_date == date(2026, 4, 14)
    [decision] = documents(services, case.id)
    assert decision.kind == "approval_decision" and decision.title == "准予确认决定书"
    with services.db.read() as session:
        assert audit.verify(session, case.id) == []


def test_care_is_entrusted_under_an_agreement_only_with_the_persons_consent(services: Services) -> None:
    case = apply(services)
    through_town(services, case)
    work(services, case, "county_approval", support_mode="dispersed")
    # 国发〔2016〕14号: the town may entrust the care of someone supported at home, with their consent.
    with pytest.raises(ValidationFailed) as unnamed:
        work(services, case, "sign_agreement", care_entrusted=True, carer_name=None)
    assert unnamed.value.fields == {"carer_name": ["“受托人名称或姓名”为必填项"]}
    work(services, case, "sign_agreement", care_entrusted=False, carer_kind=None, carer_name=None,
         agreement_date=None)
    assert steps(services, case) == [("issue_certificate", "county_civil_affairs")]


def test_an_application_on_the_persons_behalf_names_the_representative(services: Services) -> None:
    # 43号 §10: someone who finds it hard to apply may have the village committee or another person apply.
    for applied_by in ("other", "village"):
        with pytest.raises(ValidationFailed) as missing:
            apply(services, application(services, applied_by=applied_by))
        assert set(missing.value.fields) == set(ON_BEHALF_FIELDS)
        assert "“代为申请人身份证号码”为必填项" in missing.value.details
    case = apply(services, application(services) | REPRESENTATIVE)
    assert steps(services, case) == [("village_review", "village_committee")]

    # The county post, which has not handled the case, sees who applied and how, the ID number masked.
    client = create_app(services=services, config={"TESTING": True}).test_client()
    login(client, "county_civil")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "亲属或他人代为申请" in page and "欧阳志强" in page and "侄子" in page
    assert REPRESENTATIVE["representative_id_number"] not in page
    assert mask_id_number(REPRESENTATIVE["representative_id_number"]) in page


def test_the_villages_doubt_is_an_opinion_and_the_town_still_investigates(services: Services) -> None:
    case = apply(services)
    work(services, case, "village_review", village_view="doubt",
         village_opinion="据村民反映，申请人之子在外务工，建议乡镇重点核查赡养情况")
    assert reload(services, case.id).status == "running"
    assert steps(services, case) == [("town_investigation", "town_civil_affairs")]


def test_an_objection_during_publicity_sends_the_case_back_to_investigation(services: Services) -> None:
    case = apply(services)
    work(services, case, "village_review")
    work(services, case, "town_investigation")
    work(services, case, "town_review")
    pass_publicity(services)
    with pytest.raises(ValidationFailed) as unsaid:
        work(services, case, "publicity_result", publicity_decision="objection", objection_summary=None)
    assert unsaid.value.fields == {"objection_summary": ["“异议内容”为必填项"]}
    work(services, case, "publicity_result", publicity_decision="objection",
         objection_summary="村民反映申请人有一处出租门面，每月租金收入约800元")
    # 43号: the town investigates again and posts its new 初审意见; the county has seen nothing yet.
    assert steps(services, case) == [("town_investigation", "town_civil_affairs")]
    work(services, case, "town_investigation", home_visit="复核：门面已于2025年转让，现无租金收入")
    work(services, case, "town_review")
    assert steps(services, case) == [] and publicity_waiting(services, case) == 1
    pass_publicity(services)
    work(services, case, "publicity_result")
    work(services, case, "county_approval", support_mode="centralized")
    work(services, case, "issue_certificate")
    final = reload(services, case.id)
    assert (final.status, final.result) == ("completed", "approved")
    assert [row.reason for row in pauses(services, case.id)] == ["公示", "公示"]


def test_the_towns_finding_of_ineligibility_is_decided_by_the_county_in_writing(services: Services) -> None:
    case = apply(services)
    work(services, case, "village_review")
    work(services, case, "town_investigation")
    work(services, case, "town_review", "reject", town_opinion=REFUSAL)
    # 43号 §3: the town only proposes; the county confirms. Nothing is posted for a refusal.
    assert steps(services, case) == [("county_approval", "county_civil_affairs")]
    assert publicity_waiting(services, case) == 0
    # A county that would grant what was never posted sends the case back for a new investigation and 公示.
    work(services, case, "county_approval", "approve")
    assert steps(services, case) == [("town_investigation", "town_civil_affairs")]
    work(services, case, "town_investigation")
    work(services, case, "town_review", "reject", town_opinion=REFUSAL)
    work(services, case, "county_approval", "reject", county_opinion=REFUSAL)
    final = reload(services, case.id)
    assert (final.status, final.result) == ("completed", "rejected")
    [decision] = documents(services, case.id)
    assert decision.kind == "refusal_decision" and decision.title == "不予确认决定书"
    assert decision.facts["reasons"] == REFUSAL and decision.facts["decided_by_post"] == "青山县民政局"
    assert decision.facts["rights"]["review_days"] == 60 and decision.facts["rights"]["litigation_months"] == 6


def test_the_county_refuses_after_publicity_with_a_written_decision(services: Services) -> None:
    case = apply(services)
    through_town(services, case)
    reasons = "随机抽查核实：申请人名下有商品房一套，财产状况不符合当地特困人员财产状况规定"
    work(services, case, "county_approval", "reject", county_opinion=reasons)
    final = reload(services, case.id)
    assert (final.status, final.result) == ("completed", "rejected")
    [decision] = documents(services, case.id)
    assert decision.kind == "refusal_decision" and decision.facts["reasons"] == reasons
    assert decision.facts["rights"]["review_body"] == "青山县人民政府"


def test_the_town_window_tells_what_is_missing_once_then_accepts(services: Services) -> None:
    window = "qingshui_window"
    with services.db.read() as session:
        listed = current_version(session, ITEM).guide["materials"]
    ticks = [{"name": m["name"], "received": m["name"] != STATEMENT, "copies": m["copies"], "original": False}
             for m in listed]
    case = apply(services, window=Window(ticks, Outcome.SUPPLEMENT), by=window)
    case, row, _, tasks = reread(services, case.id)
    assert case.status == "supplement" and case.promised_date is None and not tasks
    assert row.notice_missing == [{"name": STATEMENT, "note": ""}]
    clock.travel(timedelta(days=2))
    services.cases.examine(user_id(services, window), case.id,
                           Window([tick | {"received": True} for tick in ticks]))
    case, _, _, tasks = reread(services, case.id)
    # Twenty-five working days from acceptance on Wednesday 4 March.
    assert case.status == "running" and case.promised_date == date(2026, 4, 9)
    assert [task.element_id for task in tasks] == ["village_review"]
    assert [d.kind for d in documents(services, case.id)] == ["supplement_notice", "receipt"]


def test_a_case_on_behalf_through_the_api(services: Services) -> None:
    client: FlaskClient = make_client(services)
    schema = item(client, services, ITEM)["application_schema"]
    person = applicant(DONGPO, date(1948, 6, 1))
    data = fill(schema) | {"applied_by": "village", "representative_name": "东方红梅",
                           "representative_relationship": "村委会委员"}
    response = client.post("/api/v1/cases", headers=auth(services, "dongpo_agent"), json={
        "item_code": ITEM, "village_code": DONGPO, "applicant": person, "data": data})
    assert response.status_code == 201, response.json
    case = response.json
    assert case["case_number"].startswith(f"{ITEM}-") and case["tasks"][0]["step"] == "村委会协助核实"
    for username in ("dongpo_committee", "qingshui_civil", "qingshui_civil"):
        task = post_task_for(client, services, username, case["id"])
        assert api_complete(client, services, username, task["id"],
                            form_data(client, services, username, task["id"])).status_code == 200
    pass_publicity(services)
    for username in ("qingshui_civil", "county_civil", "qingshui_civil", "county_civil"):
        task = post_task_for(client, services, username, case["id"])
        assert api_complete(client, services, username, task["id"],
                            form_data(client, services, username, task["id"])).status_code == 200
    done = client.get(f"/api/v1/cases/{case['id']}", headers=auth(services, "dongpo_agent")).json
    assert (done["status"], done["result"]) == ("completed", "approved")
