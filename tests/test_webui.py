"""The staff web UI through Flask's test client: login, inbox, starting a case, task forms, case page, jurisdiction."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine import clock
from engine.idcard import mask_id_number
from engine.models import Case, CaseEvent, ProcedureVersion, Task
from engine.people.accounts import set_away
from engine.procedures.deploy import deploy_folders
from engine.services import Services
from tests.conftest import user_id
from tests.procedures import AID_APPLICATION, AID_ITEM, AID_SCRIPTS, applicant, dibao_with_scripts, fill
from tests.test_engine import start
from tests.test_incidents import failed_case
from webui import create_app

DONGPO = "510123101201"
PASSWORD = "bianmin2026"


@pytest.fixture(scope="module")
def app(sqlite_services: Services) -> Flask:
    return create_app(services=sqlite_services, config={"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def other_client(app: Flask) -> FlaskClient:
    return app.test_client()


# -- helpers ----------------------------------------------------------------------------------------


def csrf(client: FlaskClient) -> str:
    with client.session_transaction() as session:
        session.setdefault("csrf_token", "test-csrf-token")
        return str(session["csrf_token"])


def post(client: FlaskClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return client.post(url, data={**(data or {}), "csrf_token": csrf(client)}, **kwargs)


def login(client: FlaskClient, username: str) -> None:
    response = post(client, "/login", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.text


def text(response: Any) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, whitespace collapsed."""
    return text_of(response.get_data(as_text=True))


def text_of(html: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def field_errors(response: Any) -> dict[str, list[str]]:
    """The messages shown under each input of a form, by the input's name."""
    page = lxml.html.fromstring(response.get_data(as_text=True))
    shown: dict[str, list[str]] = {}
    for field in page.xpath('//div[contains(concat(" ", @class, " "), " field ")]'):
        messages = [node.text_content().strip() for node in field.xpath('.//div[@class="field-error"]')]
        if messages:
            shown[field.xpath("(.//input|.//select|.//textarea)/@name")[0]] = messages
    return shown


def summary(response: Any) -> list[str]:
    page = lxml.html.fromstring(response.get_data(as_text=True))
    return [item.text_content().strip() for item in page.xpath('//*[@id="form-errors"]//li')]


def open_task(svc: Services, case_id: int) -> Task:
    with svc.db.read() as session:
        tasks = list(session.scalars(select(Task).where(Task.case_id == case_id, Task.status == "open")))
    assert len(tasks) == 1, tasks
    return tasks[0]


def task_form(svc: Services, task: Task, decision: str = "approve") -> dict[str, Any]:
    with svc.db.read() as session:
        case = session.get(Case, task.case_id)
        version = session.get(ProcedureVersion, case.version_id)
        return fill(version.forms[task.form_file], decision)


def as_posted(data: dict[str, Any]) -> dict[str, str]:
    """Typed form data the way a browser posts it."""
    posted = {}
    for key, value in data.items():
        posted[f"f-{key}"] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return posted


def events(svc: Services, case_id: int) -> int:
    with svc.db.read() as session:
        return session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id)) or 0


def case_count(svc: Services) -> int:
    with svc.db.read() as session:
        return session.scalar(select(func.count()).select_from(Case)) or 0


def to_town(svc: Services, case: Case) -> Task:
    """The village committee has given its opinion: the case waits at the town for its investigation."""
    village_task = open_task(svc, case.id)
    svc.cases.complete(user_id(svc, "dongpo_committee"), village_task.id, task_form(svc, village_task))
    town_task = open_task(svc, case.id)
    assert town_task.element_id == "town_investigation"
    return town_task


def to_county(svc: Services, case: Case) -> Task:
    """Investigated, found eligible by the town, posted 7 days without objection: the case waits at the county."""
    to_town(svc, case)
    for _ in ("town_investigation", "town_review"):
        task = open_task(svc, case.id)
        svc.cases.complete(user_id(svc, "qingshui_civil"), task.id, task_form(svc, task))
    clock.travel(timedelta(days=8))
    svc.cases.run_due_timers()
    confirm = open_task(svc, case.id)
    svc.cases.complete(user_id(svc, "qingshui_civil"), confirm.id, task_form(svc, confirm))
    county_task = open_task(svc, case.id)
    assert county_task.element_id == "county_approval"
    return county_task


@pytest.fixture
def present_again(sqlite_services: Services) -> Iterator[None]:
    yield
    with sqlite_services.db.write() as session:
        for name in ("qingshui_civil", "qingshui_civil_b"):
            set_away(session, name, False)


# -- login ------------------------------------------------------------------------------------------


def test_login_logout(client: FlaskClient) -> None:
    assert client.get("/").status_code == 302
    response = client.get("/inbox")
    assert response.status_code == 302 and "/login" in response.location

    bad = post(client, "/login", {"username": "dongpo_agent", "password": "wrong"})
    assert bad.status_code == 401
    assert "用户名或密码错误" in text(bad)

    response = post(client, "/login", {"username": "dongpo_agent", "password": PASSWORD, "next": "/cases"})
    assert response.status_code == 302 and response.location == "/cases"
    page = text(client.get("/inbox"))
    assert "东坡村" in page and "村代办员" in page and "我的待办" in page and "岗位待办" in page

    response = post(client, "/logout")
    assert response.status_code == 302
    assert "/login" in client.get("/inbox").location


def test_login_refuses_offsite_next_and_posts_without_token(client: FlaskClient) -> None:
    response = post(client, "/login", {"username": "dongpo_agent", "password": PASSWORD,
                                       "next": "https://evil.example/"})
    assert response.location == "/inbox"
    refused = client.post("/me/away", data={})
    assert refused.status_code == 400 and "页面已过期" in text(refused)


def test_language_switch_is_remembered(client: FlaskClient) -> None:
    login(client, "dongpo_agent")
    assert "我的待办" in text(client.get("/inbox"))
    assert "My tasks" in text(client.get("/inbox?lang=en"))
    assert "My tasks" in text(client.get("/inbox"))
    assert "我的待办" in text(client.get("/inbox?lang=zh"))


# -- inbox --------------------------------------------------------------------------------------------


def test_inbox_lists_post_tasks_and_claim_release(client: FlaskClient, sqlite_services: Services) -> None:
    case = start(sqlite_services)
    task = open_task(sqlite_services, case.id)
    login(client, "dongpo_committee")

    post_tab = client.get("/inbox?tab=post")
    page = text(post_tab)
    assert case.case_number in page
    assert mask_id_number(case.applicant_id_number) in page
    assert case.applicant_id_number not in post_tab.get_data(as_text=True)
    assert "农村居民最低生活保障" in page and "东坡村" in page and "村委会协助并提出意见" in page
    assert "认领" in page and "2026-03-02 09:00" in page and case.promised_date.isoformat() in page
    assert case.case_number not in text(client.get("/inbox?tab=mine"))

    response = post(client, f"/tasks/{task.id}/claim")
    assert response.status_code == 302
    mine = text(client.get(response.location))
    assert case.case_number in mine and "释放" in mine and "办理" in mine
    assert case.case_number not in text(client.get("/inbox?tab=post"))

    response = post(client, f"/tasks/{task.id}/release")
    assert response.status_code == 302
    assert case.case_number in text(client.get("/inbox?tab=post"))
    assert open_task(sqlite_services, case.id).assignee_id is None


def test_inbox_sorts_by_due_date_and_highlights_overdue(client: FlaskClient, sqlite_services: Services) -> None:
    # The session's other tests leave the post many open tasks: the box narrows the inbox to these two by name.
    name = "司马慕容秀兰"
    first = start(sqlite_services, name=name)
    clock.travel(timedelta(days=3))
    second = start(sqlite_services, name=name)
    login(client, "dongpo_committee")

    def order(url: str) -> list[str]:
        body = client.get(f"{url}&q={name}").get_data(as_text=True)
        return [n for n in re.findall(r'data-case-number="([^"]+)"', body) if n in (first.case_number,
                                                                                     second.case_number)]

    assert order("/inbox?tab=post") == [first.case_number, second.case_number]
    assert order("/inbox?tab=post&sort=due&dir=desc") == [second.case_number, first.case_number]
    body = client.get(f"/inbox?tab=post&q={name}").get_data(as_text=True)
    assert f'class="row-overdue" data-case-number="{first.case_number}"' not in body

    clock.travel(timedelta(days=60))
    body = client.get(f"/inbox?tab=post&q={name}").get_data(as_text=True)
    assert f'class="row-overdue" data-case-number="{first.case_number}"' in body
    assert "已超期" in text(client.get("/inbox?tab=post"))


# -- starting a case ----------------------------------------------------------------------------------


def test_village_agent_starts_a_case(client: FlaskClient, sqlite_services: Services) -> None:
    login(client, "dongpo_agent")
    assert "受理新申请" in text(client.get("/inbox"))
    form = text(client.get("/cases/new?item=MZ-DIBAO"))
    assert "家庭人口" in form and "申请理由" in form and "户主书面申请书" in form and "30 个工作日" in form

    person = applicant(DONGPO)
    response = post(client, "/cases/new", {
        "item": "MZ-DIBAO", "applicant_name": person["name"], "applicant_id_number": person["id_number"],
        "applicant_phone": person["phone"], "f-household_size": "３", "f-annual_income_per_capita": "2400.5",
        "f-has_disabled_member": "true", "f-has_seriously_ill_member": "false",
        "f-reason": "家中老人重病，无劳动能力，收入低",
    })
    assert response.status_code == 302, text(response)
    page = client.get(response.location)
    body = text(page)
    number = re.search(r"已受理，办件编号 (MZ-DIBAO-\d{8}-\d{4})", body)
    assert number, body
    # The agent who accepted the case handles it: the ID number shows in clear here (lists mask it for everyone).
    assert "办理中" in body and "村委会协助并提出意见" in body and person["id_number"] in body
    assert mask_id_number(person["id_number"]) not in body
    assert "家庭人口 3" in body and "家庭年人均收入(元) 2400.5" in body and "有无重残人员 是" in body
    with sqlite_services.db.read() as session:
        case = session.scalar(select(Case).where(Case.case_number == number.group(1)))
        started = session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                         CaseEvent.kind == "case_started"))
        assert case.village.code == DONGPO
    assert started.after["data"] == {"household_size": 3, "annual_income_per_capita": 2400.5,
                                     "has_disabled_member": True, "has_seriously_ill_member": False,
                                     "reason": "家中老人重病，无劳动能力，收入低"}


def test_bad_application_shows_every_error_and_stores_nothing(client: FlaskClient,
                                                               sqlite_services: Services) -> None:
    login(client, "dongpo_agent")
    before = case_count(sqlite_services)
    person = applicant(DONGPO)
    bad_id = person["id_number"][:-1] + ("0" if person["id_number"][-1] != "0" else "1")
    response = post(client, "/cases/new", {
        "item": "MZ-DIBAO", "applicant_name": "王", "applicant_id_number": bad_id,
        "applicant_phone": "12", "f-household_size": "3口", "f-annual_income_per_capita": "",
        "f-reason": "困难户的申请理由",
    })
    assert response.status_code == 422
    # Each message stands under its own field, and the summary at the top lists them all.
    shown = field_errors(response)
    assert shown == {
        "applicant_name": ["申请人姓名应为 2 至 30 个字"],
        "applicant_id_number": ["身份证号码校验位不正确，请核对"],
        "applicant_phone": ["联系电话应为 11 位手机号码或带区号的固定电话"],
        "f-household_size": ["“家庭人口”应填写整数，“3口”不是整数"],  # unreadable, so not also called missing
        "f-annual_income_per_capita": ["“家庭年人均收入(元)”为必填项"],
    }
    assert summary(response) == [message for messages in shown.values() for message in messages]
    body = response.get_data(as_text=True)
    assert 'value="3口"' in body and "困难户的申请理由</textarea>" in body and f'value="{bad_id}"' in body
    assert case_count(sqlite_services) == before


def test_town_window_accepts_for_a_village_of_its_town(client: FlaskClient, sqlite_services: Services) -> None:
    login(client, "qingshui_window")
    assert "受理新申请" in text(client.get("/inbox"))
    form = client.get("/cases/new?item=MZ-DIBAO").get_data(as_text=True)
    assert "东坡村（510123101201）" in form and "河湾村（510123101202）" in form and "柳林村" not in form
    before = case_count(sqlite_services)
    person = applicant("510123101202")
    fields = {
        "item": "MZ-DIBAO", "applicant_name": person["name"], "applicant_id_number": person["id_number"],
        "applicant_phone": person["phone"], "f-household_size": "2", "f-annual_income_per_capita": "1800",
        "f-has_disabled_member": "false", "f-has_seriously_ill_member": "false", "f-reason": "丧失劳动能力，无固定收入",
    }
    missing = post(client, "/cases/new", fields)
    assert missing.status_code == 422 and "请选择申请人所在村（社区）" in text(missing)
    assert "丧失劳动能力，无固定收入</textarea>" in missing.get_data(as_text=True)  # nothing typed is lost
    other_town = post(client, "/cases/new", {**fields, "village": "510123102201"})  # 柳林村 is 石桥镇's
    assert other_town.status_code == 422 and "请选择申请人所在村（社区）" in text(other_town)
    assert case_count(sqlite_services) == before
    response = post(client, "/cases/new", {**fields, "village": "510123101202"})
    assert response.status_code == 302, text(response)
    with sqlite_services.db.read() as session:
        case = session.scalar(select(Case).order_by(Case.id.desc()))
        assert case.village.code == "510123101202" and case.applicant_name == person["name"]
    # The village review goes to the committee of the applicant's village.
    assert open_task(sqlite_services, case.id).org_id == case.village_id


def test_only_agents_and_window_staff_start_cases(client: FlaskClient) -> None:
    login(client, "qingshui_civil")
    response = client.get("/cases/new")
    assert response.status_code == 403 and "只有村代办员和便民服务中心窗口人员可以受理新申请" in text(response)
    assert "受理新申请" not in text(client.get("/inbox"))


# -- task forms -------------------------------------------------------------------------------------


def test_wrong_task_data_shows_chinese_errors_and_changes_nothing(client: FlaskClient,
                                                                  sqlite_services: Services) -> None:
    case = start(sqlite_services)
    task = open_task(sqlite_services, case.id)
    login(client, "dongpo_committee")
    post(client, f"/tasks/{task.id}/claim")
    form = client.get(f"/tasks/{task.id}")
    page = text(form)
    assert form.status_code == 200 and "村委会意见" in page and "建议纳入" in page and "不建议纳入" in page
    assert 'type="radio" name="f-village_decision" value="approve"' in form.get_data(as_text=True)
    assert "村委会只提建议，不作决定" in page  # the diagram's instructions for the step
    count = events(sqlite_services, case.id)

    response = post(client, f"/tasks/{task.id}", {"f-appraisal_held": "false", "f-village_opinion": "缺"})
    assert response.status_code == 422
    assert field_errors(response) == {"f-village_decision": ["“村委会意见”为必填项"],
                                      "f-village_opinion": ["“意见及理由”至少填写 2 个字"]}
    assert summary(response) == ["“村委会意见”为必填项", "“意见及理由”至少填写 2 个字"]
    assert "缺</textarea>" in response.get_data(as_text=True)
    response = post(client, f"/tasks/{task.id}", {"f-village_decision": "maybe", "f-appraisal_held": "false",
                                                  "f-village_opinion": "情况属实"})
    assert response.status_code == 422 and "“村委会意见”的取值不在可选范围内" in text(response)
    assert events(sqlite_services, case.id) == count
    assert open_task(sqlite_services, case.id).id == task.id


def test_number_field_with_letters_is_a_chinese_error(client: FlaskClient, sqlite_services: Services) -> None:
    case = start(sqlite_services)
    county_task = to_county(sqlite_services, case)
    login(client, "county_civil")
    count = events(sqlite_services, case.id)
    response = post(client, f"/tasks/{county_task.id}", {
        "f-county_decision": "approve", "f-county_opinion": "同意纳入低保", "f-monthly_allowance": "3百元"})
    assert response.status_code == 422
    page = text(response)
    assert "“月保障金额(元)”应填写数字，“3百元”不是有效的数字" in page
    assert "“月保障金额(元)”为必填项" not in page
    assert 'value="3百元"' in response.get_data(as_text=True)
    response = post(client, f"/tasks/{county_task.id}", {"f-county_decision": "approve", "f-county_opinion": "同意"})
    assert response.status_code == 422 and "“月保障金额(元)”为必填项" in text(response)
    assert events(sqlite_services, case.id) == count

    response = post(client, f"/tasks/{county_task.id}", {
        "f-county_decision": "approve", "f-county_opinion": "同意纳入低保", "f-monthly_allowance": "１２０.５"})
    assert response.status_code == 302
    with sqlite_services.db.read() as session:
        done = session.scalar(select(CaseEvent).where(CaseEvent.task_id == county_task.id,
                                                      CaseEvent.kind == "task_completed"))
    assert done.after == {"county_decision": "approve", "county_opinion": "同意纳入低保", "monthly_allowance": 120.5}


def test_completing_a_task_shows_on_the_case_page(client: FlaskClient, sqlite_services: Services) -> None:
    case = start(sqlite_services)
    task = open_task(sqlite_services, case.id)
    login(client, "dongpo_committee")
    post(client, f"/tasks/{task.id}/claim")
    response = post(client, f"/tasks/{task.id}", {"f-village_decision": "approve", "f-appraisal_held": "true",
                                                  "f-village_opinion": "情况属实，同意"})
    assert response.status_code == 302
    assert "已办理" in text(client.get(response.location))

    page = client.get(f"/cases/{case.id}")
    body = text(page)
    assert "村委会意见 建议纳入" in body and "意见及理由 情况属实，同意" in body and "是否组织民主评议 是" in body
    assert "家庭经济状况调查" in body  # the town's step the case went on to
    for kind in ("受理", "任务到达", "认领", "办理"):
        assert kind in body
    html = page.get_data(as_text=True)
    completed = re.search(r'data-completed="([^"]*)"', html).group(1)
    active = re.search(r'data-active="([^"]*)"', html).group(1)
    assert "village_review" in unescape(completed) and "StartEvent_apply" in unescape(completed)
    assert "town_investigation" in unescape(active)
    assert "bpmn-navigated-viewer.production.min.js" in html

    diagram = client.get(f"/cases/{case.id}/diagram.bpmn")
    assert diagram.status_code == 200 and b"village_review" in diagram.data


def test_values_computed_by_scripts_show_on_the_case_page(client: FlaskClient, sqlite_services: Services,
                                                          tmp_path: Path) -> None:
    with sqlite_services.db.write() as session:
        folder = dibao_with_scripts(tmp_path, AID_ITEM, AID_SCRIPTS)
        deploy_folders(session, [folder], sqlite_services.settings.max_diagram_bytes)
    case = sqlite_services.cases.start_case(user_id(sqlite_services, "dongpo_agent"), AID_ITEM, DONGPO,
                                            applicant(), AID_APPLICATION).case
    task = open_task(sqlite_services, case.id)
    sqlite_services.cases.complete(user_id(sqlite_services, "dongpo_committee"), task.id,
                                   task_form(sqlite_services, task))
    login(client, "dongpo_committee")
    page = client.get(f"/cases/{case.id}")
    html = page.get_data(as_text=True)
    computed = text_of(re.search(r'<section class="card" id="computed-values">.*?</section>', html, re.S).group(0))
    # Named by the key, or by the title of a form field of that name (月保障金额 is on the county's form).
    assert computed == "流程计算结果 月保障金额(元) 350 aid_amount 350 eligible 是 review_by 2026-03-16T00:00:00"
    body = text(page)
    assert "流程计算 核算救助金额 aid_amount： 300" in body
    assert "调整救助金额 aid_amount： 300 → 350 note： 待村委会核实 → — 月保障金额(元)： 350" in body

    english = text(client.get(f"/cases/{case.id}?lang=en"))
    assert "Computed values" in english and "values computed" in english


def test_a_case_without_scripts_has_no_computed_values_section(client: FlaskClient, sqlite_services: Services) -> None:
    case = start(sqlite_services)
    login(client, "dongpo_agent")
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200 and "流程计算结果" not in text(page)


def test_rejected_case_shows_completed_with_result(client: FlaskClient, sqlite_services: Services) -> None:
    case = start(sqlite_services)
    investigation = to_town(sqlite_services, case)
    sqlite_services.cases.complete(user_id(sqlite_services, "qingshui_civil"), investigation.id,
                                   task_form(sqlite_services, investigation))
    task = open_task(sqlite_services, case.id)
    login(client, "qingshui_civil")
    response = post(client, f"/tasks/{task.id}", {"f-town_decision": "reject", "f-town_opinion": "家庭存款超过规定"})
    assert response.status_code == 302  # an unclaimed task is claimed by completing it
    page = client.get(f"/cases/{case.id}")
    body = text(page)
    assert "已办结" in body and "不予" in body and "初审意见 不符合条件（书面告知理由）" in body
    assert "当前没有待办理的环节" in body
    completed = unescape(re.search(r'data-completed="([^"]*)"', page.get_data(as_text=True)).group(1))
    assert "EndEvent_rejected_town" in completed and "Gateway_town" in completed
    assert "Flow_town_reject" in completed and "Flow_town_approve" not in completed
    assert client.get(f"/tasks/{task.id}").status_code == 200
    assert "该任务已由清水镇民政办（A岗）于 2026-03-02 09:00 办理完毕" in text(client.get(f"/tasks/{task.id}"))
    english = text(client.get(f"/cases/{case.id}?lang=en"))
    assert "Completed" in english and "Refused" in english and "History" in english


def test_task_completed_by_someone_else_answers_409_naming_who(client: FlaskClient, other_client: FlaskClient,
                                                               sqlite_services: Services) -> None:
    case = start(sqlite_services)
    town_task = to_town(sqlite_services, case)
    login(client, "qingshui_civil")
    assert client.get(f"/tasks/{town_task.id}").status_code == 200  # A opens the form …
    login(other_client, "qingshui_civil_b")
    done = post(other_client, f"/tasks/{town_task.id}", as_posted(task_form(sqlite_services, town_task)))
    assert done.status_code == 302  # … B completes it first …
    response = post(client, f"/tasks/{town_task.id}", as_posted(task_form(sqlite_services, town_task)))
    assert response.status_code == 409  # … and A is told who did
    page = text(response)
    assert "该任务已由清水镇民政办（B岗）于" in page and "办理完毕" in page
    assert 'id="task-form"' not in response.get_data(as_text=True)


# -- jurisdiction -----------------------------------------------------------------------------------


@pytest.mark.parametrize("outsider", ["hewan_agent", "shiqiao_civil", "liulin_agent"])
def test_outsiders_never_see_or_touch_a_dongpo_case(client: FlaskClient, sqlite_services: Services,
                                                    outsider: str) -> None:
    case = start(sqlite_services)
    village_task = open_task(sqlite_services, case.id)
    login(client, outsider)
    for tab in ("mine", "post"):
        assert case.case_number not in text(client.get(f"/inbox?tab={tab}"))
    assert case.case_number not in text(client.get("/ledger"))
    assert case.case_number not in text(client.get(f"/ledger?q={case.case_number}"))
    for url in (f"/cases/{case.id}", f"/cases/{case.id}/diagram.bpmn", f"/tasks/{village_task.id}"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert case.case_number not in response.get_data(as_text=True)
    assert client.get("/cases/999999").status_code == 404  # the same answer as a case that does not exist

    def refused(task: Task) -> None:
        count = events(sqlite_services, case.id)
        assert post(client, f"/tasks/{task.id}/claim").status_code == 404
        assert post(client, f"/tasks/{task.id}/release").status_code == 404
        assert post(client, f"/tasks/{task.id}", as_posted(task_form(sqlite_services, task))).status_code == 404
        assert client.get(f"/tasks/{task.id}").status_code == 404
        assert events(sqlite_services, case.id) == count
        assert open_task(sqlite_services, case.id).assignee_id is None

    refused(village_task)
    town_task = to_town(sqlite_services, case)  # now at the town of 清水镇: still nobody else's business
    refused(town_task)
    for tab in ("mine", "post"):
        assert case.case_number not in text(client.get(f"/inbox?tab={tab}"))


def test_same_town_other_post_sees_the_case_but_cannot_work_it(client: FlaskClient,
                                                               sqlite_services: Services) -> None:
    case = start(sqlite_services)
    town_task = to_town(sqlite_services, case)
    login(client, "qingshui_land")
    assert client.get(f"/cases/{case.id}").status_code == 200
    assert case.case_number not in text(client.get("/inbox?tab=post"))
    page = text(client.get(f"/tasks/{town_task.id}"))
    assert "您不是该任务所属岗位的人员" in page
    count = events(sqlite_services, case.id)
    assert post(client, f"/tasks/{town_task.id}/claim").status_code == 403
    assert post(client, f"/tasks/{town_task.id}", as_posted(task_form(sqlite_services, town_task))).status_code == 403
    assert events(sqlite_services, case.id) == count


# -- A/B post -----------------------------------------------------------------------------------------


def test_b_post_works_the_away_holders_tasks(client: FlaskClient, other_client: FlaskClient,
                                             sqlite_services: Services, present_again: None) -> None:
    case = start(sqlite_services)
    town_task = to_town(sqlite_services, case)
    login(client, "qingshui_civil")
    post(client, f"/tasks/{town_task.id}/claim")
    assert case.case_number in text(client.get("/inbox?tab=mine"))

    login(other_client, "qingshui_civil_b")
    assert case.case_number not in text(other_client.get("/inbox?tab=mine"))
    assert post(other_client, f"/tasks/{town_task.id}", as_posted(task_form(sqlite_services, town_task))
                ).status_code == 409  # A holds it and is present

    response = post(client, "/me/away", {"next": "/inbox"})
    assert response.status_code == 302
    page = text(client.get("/inbox"))
    assert "不在岗" in page and "恢复在岗" in page

    mine = text(other_client.get("/inbox?tab=mine"))
    assert case.case_number in mine and "代清水镇民政办（A岗）办理" in mine
    response = post(other_client, f"/tasks/{town_task.id}", as_posted(task_form(sqlite_services, town_task)))
    assert response.status_code == 302
    with sqlite_services.db.read() as session:
        done = session.get(Task, town_task.id)
        assert done.status == "completed" and done.completed_by_id == user_id(sqlite_services, "qingshui_civil_b")

    post(client, "/me/away", {"next": "/inbox"})
    assert "标记不在岗" in text(client.get("/inbox"))


# -- bpmn-js assets ---------------------------------------------------------------------------------


def test_administrators_have_an_incidents_page_and_nobody_else(client: FlaskClient, other_client: FlaskClient,
                                                               sqlite_services: Services, tmp_path: Path) -> None:
    case = failed_case(sqlite_services, tmp_path)
    login(client, "admin")
    page = client.get("/incidents")
    assert page.status_code == 200
    html = lxml.html.fromstring(page.get_data(as_text=True))
    assert html.xpath("//a[@id='nav-incidents']")[0].text_content() == "异常办件"
    [row] = [tr for tr in html.xpath("//table[@id='incidents']/tbody/tr") if case.case_number in tr.text_content()]
    shown = row.text_content()
    assert "定时器“初审公示7天”到期后的流程" in shown and "objection_count" in shown and "1 / 8" in shown
    login(other_client, "dongpo_agent")
    refused = other_client.get("/incidents")
    assert refused.status_code == 403 and "只有系统管理员可以查看异常办件" in text(refused)
    assert "nav-incidents" not in other_client.get("/inbox").get_data(as_text=True)


def test_bpmn_js_is_served_from_node_modules(client: FlaskClient) -> None:
    script = client.get("/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js")
    assert script.status_code == 200 and len(script.data) > 100_000
    assert client.get("/vendor/bpmn-js/assets/bpmn-js.css").status_code == 200
    assert client.get("/vendor/bpmn-js/assets/bpmn-font/css/bpmn.css").status_code == 200
    assert client.get("/vendor/bpmn-js/bpmn-modeler.production.min.js").status_code == 404
    assert client.get("/vendor/bpmn-js/assets/../../package.json").status_code == 404


def test_missing_bpmn_js_says_so(sqlite_services: Services, tmp_path: Any) -> None:
    without = Services(replace(sqlite_services.settings, node_modules=tmp_path), sqlite_services.db,
                       sqlite_services.cases)
    client = create_app(services=without, config={"TESTING": True}).test_client()
    response = client.get("/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js")
    assert response.status_code == 503 and "npm ci" in response.get_data(as_text=True)
    case = start(sqlite_services)
    login(client, "dongpo_agent")
    assert "流程图组件 bpmn-js 未安装" in text(client.get(f"/cases/{case.id}"))


def test_a_post_without_the_pages_token_is_refused_and_a_script_may_send_it_as_a_header(client: FlaskClient) -> None:
    csrf(client)
    refused = client.post("/login", data={"username": "dongpo_agent", "password": PASSWORD})
    assert refused.status_code == 400 and "页面已过期" in text(refused)
    forged = client.post("/login", data={"username": "dongpo_agent", "password": PASSWORD},
                         headers={"X-CSRF-Token": "not-the-token"})
    assert forged.status_code == 400
    accepted = client.post("/login", data={"username": "dongpo_agent", "password": PASSWORD},
                           headers={"X-CSRF-Token": csrf(client)})
    assert accepted.status_code == 302
