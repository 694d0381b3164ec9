"""Personal data on the pages and in the API: masked for whoever does not handle the case, revealed with a reason,
the reveal logged and listed for the auditor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import select

from engine.audit import system
from engine.config import ROOT
from engine.idcard import mask_id_number
from engine.models import Case, DataReveal, SystemEvent
from engine.procedures.deploy import current_version, deploy_folders
from engine.procedures.formdesign import ID_NUMBER_PATTERN
from engine.services import Services
from engine.vocabulary import SystemEventKind
from tests.conftest import user_id
from tests.procedures import applicant, fill
from tests.test_api import auth, make_client
from tests.test_webui import DONGPO, login, open_task, post, text, text_of

SPOUSE_ID = "510123196305120027"


def start_with_spouse(svc: Services) -> Case:
    """A 低保 case whose 申请理由 quotes the spouse's ID and phone: free text is masked too."""
    with svc.db.read() as session:
        version = current_version(session, "MZ-DIBAO")
        schema = version.forms[version.guide["application_form"]]
    data = fill(schema) | {"household_size": 4, "annual_income_per_capita": 3600,
                           "reason": f"配偶李德明（身份证{SPOUSE_ID}，电话13698765432）患尿毒症长期透析，"
                                     "两个孩子在读初中，家中无其他劳动力，靠亲戚接济"}
    return svc.cases.start_case(user_id(svc, "dongpo_agent"), "MZ-DIBAO", DONGPO, applicant(DONGPO), data).case


def reveals_of(svc: Services, case_id: int) -> list[DataReveal]:
    with svc.db.read() as session:
        return list(session.scalars(select(DataReveal).where(DataReveal.case_id == case_id).order_by(DataReveal.id)))


def test_another_posts_clerk_sees_numbers_masked_the_handler_in_clear(services: Services) -> None:
    case = start_with_spouse(services)
    phone = case.applicant_phone
    land = make_client(services)
    login(land, "qingshui_land")  # the town's 国土所: sees the town's cases, has no step on a 低保 case
    html = land.get(f"/cases/{case.id}").get_data(as_text=True)
    assert mask_id_number(case.applicant_id_number) in html and case.applicant_id_number not in html
    assert phone[:3] + "****" + phone[-4:] in html and phone not in html
    assert "510123********0027" in html and SPOUSE_ID not in html and "136****5432" in html
    assert "查看完整" in html
    replay = land.get(f"/cases/{case.id}/replay?at=1").get_data(as_text=True)
    assert SPOUSE_ID not in replay and "510123********0027" in replay

    api = land.get(f"/api/v1/cases/{case.id}", headers=auth(services, "qingshui_land")).json
    assert api["applicant"]["id_number"] == mask_id_number(case.applicant_id_number)
    assert api["applicant"]["phone"] == phone[:3] + "****" + phone[-4:]
    assert SPOUSE_ID not in api["data"]["application"]["reason"]
    events = land.get(f"/api/v1/cases/{case.id}/events", headers=auth(services, "qingshui_land")).json
    assert events["chain_intact"] and SPOUSE_ID not in str(events["events"])

    committee = make_client(services)
    login(committee, "dongpo_committee")  # its 村委会协助并提出意见 step is open: it handles the case
    html = committee.get(f"/cases/{case.id}").get_data(as_text=True)
    assert case.applicant_id_number in html and phone in html and SPOUSE_ID in html
    assert "查看完整" not in html
    api = committee.get(f"/api/v1/cases/{case.id}", headers=auth(services, "dongpo_committee")).json
    assert api["applicant"] == {"name": case.applicant_name, "id_number": case.applicant_id_number, "phone": phone}
    # Lists stay masked for everyone, the handler included.
    listed = committee.get(f"/api/v1/cases?q={case.case_number}", headers=auth(services, "dongpo_committee")).json
    assert listed["cases"][0]["applicant"]["id_number"] == mask_id_number(case.applicant_id_number)


def test_reveal_needs_a_reason_and_is_logged_in_the_table_and_the_system_chain(services: Services) -> None:
    case = start_with_spouse(services)
    land = make_client(services)
    login(land, "qingshui_land")
    refused = post(land, f"/cases/{case.id}/reveal", {"field": "applicant_id_number", "reason": ""})
    assert refused.status_code == 422 and "请选择查看理由" in text(refused)
    other = post(land, f"/cases/{case.id}/reveal", {"field": "applicant_id_number", "reason": "其他", "note": ""})
    assert other.status_code == 422 and "须填写具体理由" in text(other)
    assert reveals_of(services, case.id) == []

    shown = post(land, f"/cases/{case.id}/reveal", {"field": "applicant_id_number", "reason": "核实身份"})
    assert shown.status_code == 200
    page = text(shown)
    assert case.applicant_id_number in page and "已按“核实身份”显示完整的申请人身份证号码" in page
    # Only what was revealed, and only on that page: the phone stays masked, and the next visit masks again.
    assert case.applicant_phone not in page
    assert case.applicant_id_number not in land.get(f"/cases/{case.id}").get_data(as_text=True)
    # On the task page too: masked, and revealed there for that page.
    task = open_task(services, case.id)
    assert case.applicant_id_number not in land.get(f"/tasks/{task.id}").get_data(as_text=True)
    on_task = post(land, f"/cases/{case.id}/reveal", {"field": "applicant_phone", "reason": "办理需要",
                                                      "back": f"task:{task.id}"})
    assert on_task.status_code == 200 and case.applicant_phone in text(on_task)
    assert "村委会协助并提出意见" in text(on_task)
    row, _ = reveals_of(services, case.id)
    land_id = user_id(services, "qingshui_land")
    assert (row.user_id, row.field, row.reason) == (land_id, "applicant_id_number", "核实身份")
    with services.db.read() as session:
        event, _ = session.scalars(select(SystemEvent).where(SystemEvent.kind == SystemEventKind.DATA_REVEALED,
                                                             SystemEvent.subject == case.case_number)
                                   .order_by(SystemEvent.seq)).all()
        assert system.verify(session) == []
    assert event.actor_id == row.user_id and event.after["reason"] == "核实身份"
    assert event.after["field"] == "applicant_id_number"


def test_api_reveal_and_who_may_not(services: Services) -> None:
    case = start_with_spouse(services)
    client = make_client(services)
    url = f"/api/v1/cases/{case.id}/reveal"
    answer = client.post(url, headers=auth(services, "auditor"),
                         json={"field": "applicant_phone", "reason": "审计核查"})
    assert answer.status_code == 200, answer.json
    assert answer.json == {"case_id": case.id, "field": "applicant_phone", "kind": "phone",
                           "value": case.applicant_phone}
    # A number quoted inside the application, named by its path.
    nested = client.post(url, headers=auth(services, "supervisor"), json={"field": "application.reason",
                                                                          "reason": "信访/投诉处理"})
    assert nested.status_code == 404 and "没有可查看的个人信息" in nested.json["error"]
    missing = client.post(url, headers=auth(services, "auditor"), json={"field": "applicant_id_number"})
    assert missing.status_code == 422 and "请选择查看理由" in missing.json["error"]
    outsider = client.post(url, headers=auth(services, "shiqiao_civil"),
                           json={"field": "applicant_id_number", "reason": "办理需要"})
    assert outsider.status_code == 403 and "不在您的辖区内" in outsider.json["error"]
    assert [row.reason for row in reveals_of(services, case.id)] == ["审计核查"]


def test_auditor_sees_who_revealed_whose_data_when_and_why(services: Services) -> None:
    case = start_with_spouse(services)
    land = make_client(services)
    login(land, "qingshui_land")
    post(land, f"/cases/{case.id}/reveal", {"field": "applicant_phone", "reason": "其他", "note": "申请人来电核对住址"})
    assert land.get("/audit/reveals").status_code == 403

    auditor = make_client(services)
    login(auditor, "auditor")
    page = text(auditor.get(f"/audit/reveals?case={case.case_number}"))
    assert case.case_number in page and case.applicant_name in page
    assert mask_id_number(case.applicant_id_number) in page and case.applicant_id_number not in page
    assert "清水镇国土所" in page and "申请人联系电话" in page and "其他 申请人来电核对住址" in page
    assert "2026-03-02" in page and "共 1 条" in page
    # Filters: by person and by period.
    assert "共 0 条" in text(auditor.get(f"/audit/reveals?case={case.case_number}&person=shiqiao"))
    assert "共 1 条" in text(auditor.get(f"/audit/reveals?case={case.case_number}&person=qingshui_land"
                                        "&from=2026-03-01&until=2026-03-02"))
    assert "共 0 条" in text(auditor.get(f"/audit/reveals?case={case.case_number}&from=2026-03-03"))
    assert auditor.get("/audit/reveals?from=3月1日").status_code == 422
    supervisor = make_client(services)
    login(supervisor, "supervisor")
    assert case.case_number in text(supervisor.get(f"/audit/reveals?case={case.case_number}"))


def test_reveal_log_is_paged(services: Services) -> None:
    case = start_with_spouse(services)
    client = make_client(services)
    for _ in range(53):
        client.post(f"/api/v1/cases/{case.id}/reveal", headers=auth(services, "supervisor"),
                    json={"field": "applicant_id_number", "reason": "审计核查"})
    auditor = make_client(services)
    login(auditor, "auditor")
    first = auditor.get(f"/audit/reveals?case={case.case_number}").get_data(as_text=True)
    assert "共 53 条" in text_of(first) and first.count("<tr data-case=") == 50 and "第 1 / 2 页" in first
    second = auditor.get(f"/audit/reveals?case={case.case_number}&page=2").get_data(as_text=True)
    assert second.count("<tr data-case=") == 3


def start_with_household(svc: Services, folder_parent: Path) -> Case:
    """A 低保 variant whose application asks for the spouse's ID number and lists the household members."""
    folder = folder_parent / "MZ-DIBAO-HH"
    shutil.copytree(ROOT / "bpmn" / "dibao", folder)
    guide = folder / "item.toml"
    guide.write_text(guide.read_text("utf-8").replace('code = "MZ-DIBAO"', 'code = "MZ-DIBAO-HH"'), "utf-8")
    form = folder / "forms" / "application.schema.json"
    schema = json.loads(form.read_text("utf-8"))
    schema["properties"]["spouse_id"] = {"type": "string", "title": "配偶身份证号码", "pattern": ID_NUMBER_PATTERN}
    schema["properties"]["members"] = {"type": "array", "title": "家庭成员", "items": {"type": "object", "properties": {
        "name": {"type": "string", "title": "姓名"}, "id_no": {"type": "string", "title": "身份证号码"},
        "tel": {"type": "string", "title": "电话"}}}}
    form.write_text(json.dumps(schema, ensure_ascii=False), "utf-8")
    with svc.db.write() as session:
        deploy_folders(session, [folder], svc.settings.max_diagram_bytes)
    data = fill({"properties": {k: v for k, v in schema["properties"].items() if k not in ("spouse_id", "members")}})
    data |= {"household_size": 3, "annual_income_per_capita": 2800, "spouse_id": SPOUSE_ID,
             "members": [{"name": "李德明", "id_no": SPOUSE_ID, "tel": "13698765432"},
                         {"name": "李小雨", "id_no": "510123201109150048", "tel": ""}]}
    return svc.cases.start_case(user_id(svc, "dongpo_agent"), "MZ-DIBAO-HH", DONGPO, applicant(DONGPO), data).case


def test_numbers_in_the_application_form_are_masked_and_revealed_by_field(sqlite_services: Services,
                                                                           tmp_path: Path) -> None:
    case = start_with_household(sqlite_services, tmp_path)
    land = make_client(sqlite_services)
    login(land, "qingshui_land")
    html = land.get(f"/cases/{case.id}").get_data(as_text=True)
    assert SPOUSE_ID not in html and "510123201109150048" not in html and "13698765432" not in html
    assert "510123********0048" in html and 'id="reveal-application-spouse_id"' in html
    shown = post(land, f"/cases/{case.id}/reveal", {"field": "application.spouse_id", "reason": "核实身份"})
    assert shown.status_code == 200 and "显示完整的申请表“配偶身份证号码”" in text(shown)
    html = shown.get_data(as_text=True)
    # The spouse's field in clear; the same number inside the members' list stays masked.
    assert html.count(SPOUSE_ID) == 1 and "510123201109150048" not in html
    member = land.post(f"/api/v1/cases/{case.id}/reveal", headers=auth(sqlite_services, "qingshui_land"),
                       json={"field": "application.members.1.id_no", "reason": "办理需要"})
    assert member.status_code == 200 and member.json["value"] == "510123201109150048"
    assert [row.field for row in reveals_of(sqlite_services, case.id)] == ["application.spouse_id",
                                                                          "application.members.1.id_no"]
