"""Checks a clerk expects of a form: numbers with thousands separators, an approved area not above the applied one,
and the applicant's age from the ID number against the item's conditions; deploying refuses a wrong declaration -
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import clock
from engine.config import ROOT
from engine.errors import DeployRefused, ValidationFailed
from engine.idcard import age_on, generate_id_number
from engine.models import Case, ProcedureVersion, Task
from engine.procedures import bundle
from engine.procedures.crosschecks import Context, findings
from engine.procedures.deploy import current_version
from engine.services import Services
from tests.conftest import TEST_START, user_id
from tests.procedures import applicant, fill
from tests.test_catalog import LIMIT
from tests.test_engine import DONGPO, form, holder, open_tasks
from tests.test_webui import login, post
from webui import create_app, formrender

ROLES = {"village_agent", "village_committee", "town_window", "town_civil_affairs", "town_agriculture", "town_land",
         "town_planning", "town_leader", "county_civil_affairs", "county_natural_resources"}


def tekun(svc: Services, born: date, category: str) -> Case:
    with svc.db.read() as session:
        version = current_version(session, "MZ-TEKUN")
        data = fill(version.forms[version.guide["application_form"]]) | {"tekun_category": category}
    person = applicant(DONGPO, born) | {"name": "东郭桂兰"}
    return svc.cases.start_case(user_id(svc, "dongpo_agent"), "MZ-TEKUN", DONGPO, person, data).case


def test_the_age_from_the_id_number_meets_the_category_of_the_items_conditions(services: Services) -> None:
    clock.set_now(TEST_START)
    with pytest.raises(ValidationFailed) as young:
        tekun(services, date(1990, 5, 17), "elderly")
    message = young.value.details[0]
    assert "“申请人类别”为“老年人”" in message and "“身份证号码”中的出生日期 1990-05-17" in message
    assert "年满 60 周岁" in message and "在 2026-03-02 为 35 周岁" in message and "老年人权益保障法》第二条" in message
    assert young.value.fields == {"tekun_category": [message]}
    # 社会救助暂行办法 §14 and 民发〔2021〕43号 §5: 特困人员's 未成年人 are those under sixteen, not eighteen.
    with pytest.raises(ValidationFailed) as grown:
        tekun(services, date(2010, 3, 2), "minor")
    assert "不满 16 周岁" in grown.value.details[0] and "社会救助暂行办法》第十四条" in grown.value.details[0]
    # Sixty on the day of application is old enough; fifteen is still a minor; 残疾人 has no age bound.
    assert tekun(services, date(1966, 3, 2), "elderly").status == "running"
    assert tekun(services, date(2010, 3, 3), "minor").status == "running"
    assert tekun(services, date(1990, 5, 17), "disabled").status == "running"


def test_age_is_counted_in_whole_years_to_the_birthday() -> None:
    assert age_on(date(1966, 3, 2), date(2026, 3, 1)) == 59
    assert age_on(date(1966, 3, 2), date(2026, 3, 2)) == 60
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


def _to_town_approval(svc: Services, case: Case) -> Task:
    """Through the village's review, its 公示 and the town's reviews to the town's approval."""
    for _ in range(10):
        tasks = open_tasks(svc, case.id)
        found = [task for task in tasks if task.element_id == "town_review"]
        if found:
            return found[0]
        if not tasks:
            clock.travel(timedelta(days=8))
            assert svc.cases.run_due_timers() >= 1
        for task in tasks:
            svc.cases.complete(holder(svc, task), task.id, form(svc, task, "approve"))
    raise AssertionError("the case never reached the town's approval")


def test_the_approved_area_is_not_above_the_applied_area(services: Services) -> None:
    clock.set_now(TEST_START)
    with services.db.read() as session:
        version = current_version(session, "ZR-ZHAIJIDI")
        data = fill(version.forms[version.guide["application_form"]]) | {"land_area_sqm": 120.5, "household_size": 5}
    case = services.cases.start_case(user_id(services, "dongpo_agent"), "ZR-ZHAIJIDI", DONGPO,
                                     applicant(DONGPO) | {"name": "欧阳秀珍"}, data).case
    task = _to_town_approval(services, case)
    approval = form(services, task, "approve")
    with pytest.raises(ValidationFailed) as above:
        services.cases.complete(holder(services, task), task.id, approval | {"approved_area_sqm": 150})
    assert above.value.details == ["“批准用地面积(平方米)”（150）不能大于“申请用地面积(平方米)”（120.5）"]
    assert set(above.value.fields) == {"approved_area_sqm"}
    services.cases.complete(holder(services, task), task.id, approval | {"approved_area_sqm": 120.5})
    assert [task.element_id for task in open_tasks(services, case.id)] == ["issue_licences"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "zhaijidi"
    shutil.copytree(ROOT / "bpmn" / "zhaijidi", target)
    return target


def _declare(folder: Path, name: str, checks: object) -> None:
    path = folder / "forms" / name
    schema = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps(schema | {"x-checks": checks}, ensure_ascii=False), "utf-8")


def test_deploying_refuses_a_check_on_fields_the_forms_do_not_have(folder: Path) -> None:
    _declare(folder, "town_review.schema.json",
             [{"check": "not_above", "field": "approved_area", "limit": "land_area_sqm"},
              {"check": "not_above", "field": "approved_area_sqm", "limit": "applied_area"},
              {"check": "age", "min": 18, "when": {"applicant_kind": "adult"}},
              {"check": "below"}])
    with pytest.raises(DeployRefused) as caught:
        bundle.read_folder(folder, ROLES, LIMIT)
    found = [(problem.file.rpartition("/")[2], problem.message) for problem in caught.value.problems]
    name = "town_review.schema.json"
    assert (name, "x-checks 第 1 项：field“approved_area”不是本表单的字段") in found
    assert (name, "x-checks 第 2 项：limit“applied_area”不是本流程任何表单的字段") in found
    assert (name, "x-checks 第 3 项：缺少 basis") in found
    assert (name, "x-checks 第 3 项：when 中的“applicant_kind”不是本表单的字段") in found
    assert any(message.startswith("x-checks 第 4 项：应为对象，check 为 not_above") for _, message in found)


def test_deploying_refuses_an_area_standard_it_cannot_apply(folder: Path) -> None:
    _declare(folder, "application.schema.json", [
        {"check": "area_per_person", "field": "area", "persons": "people", "per_person": 0, "basis": ""},
        {"check": "area_per_person", "field": "land_area_sqm", "persons": "household_size", "per_person": 30,
         "counted_from": 5, "counted_to": 3, "basis": "四川 实施办法第五十二条"},
        {"check": "area_per_person", "field": "land_area_sqm", "persons": "household_size", "per_person": 30}])
    with pytest.raises(DeployRefused) as caught:
        bundle.read_folder(folder, ROLES, LIMIT)
    found = [problem.message for problem in caught.value.problems]
    assert "x-checks 第 1 项：field“area”不是本表单的字段" in found
    assert "x-checks 第 1 项：persons“people”不是本流程任何表单的字段" in found
    assert "x-checks 第 1 项：per_person 应为正数（每人平方米数）" in found
    assert "x-checks 第 1 项：basis 应写明面积标准的依据（省级规定的条文）" in found
    assert "x-checks 第 2 项：counted_from 不能大于 counted_to" in found
    assert "x-checks 第 3 项：缺少 basis" in found


AREA = {"check": "area_per_person", "field": "area", "persons": "people", "per_person": 30, "counted_from": 3,
        "counted_to": 5, "basis": "第五十二条"}


@pytest.mark.parametrize("people,area,limit", [(1, 91, 90), (3, 91, 90), (4, 121, 120), (5, 151, 150), (9, 151, 150)])
def test_an_area_above_the_standard_for_the_counted_household_is_named(people: int, area: float, limit: int) -> None:
    schema = {"properties": {"area": {"title": "面积"}}, "x-checks": [AREA]}
    context = Context({"people": people}, None, date(2026, 3, 2), {"people": "家庭人口", "area": "面积"})
    assert findings(schema, {"area": limit}, context) == {}
    counted = min(max(people, 3), 5)
    assert findings(schema, {"area": area}, context) == {"area": [
        f"“面积”（{area:g}）超过标准：“家庭人口”{people} 人，按 {counted} 人计算，每人不超过 30 平方米，"
        f"合计不超过 {limit} 平方米（依据：第五十二条）"]}


def test_the_shipped_checks_deploy(folder: Path) -> None:
    forms = bundle.read_folder(folder, ROLES, LIMIT).forms
    assert forms["town_review.schema.json"]["x-checks"] and forms["application.schema.json"]["x-checks"]


def test_numbers_accept_thousands_separators_and_are_stored_as_numbers() -> None:
    schema = {"type": "object", "properties": {"area": {"type": "number", "title": "面积"},
                                               "people": {"type": "integer", "title": "人数"}}}
    for typed, area in (("1,234.5", 1234.5), ("1，234.5", 1234.5), ("１，２３４．５", 1234.5),
                        ("12,345,678", 12345678)):
        data, problems = formrender.parse(schema, {"f-area": typed, "f-people": "1,200"})
        assert (data, problems) == ({"area": area, "people": 1200}, {})
    data, problems = formrender.parse(schema, {"f-area": "12,34", "f-people": "1,2"})
    assert data == {} and set(problems) == {"area", "people"}


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return create_app(services=services, config={"TESTING": True}).test_client()


def test_the_web_form_names_both_fields(client: FlaskClient, services: Services) -> None:
    clock.set_now(TEST_START)
    login(client, "dongpo_agent")
    with services.db.read() as session:
        version = session.get(ProcedureVersion, current_version(session, "MZ-TEKUN").id)
        schema = version.forms[version.guide["application_form"]]
    fields = {f"f-{name}": "true" if value is True else "false" if value is False else str(value)
              for name, value in fill(schema).items()}
    response = post(client, "/cases/new", {
        "item": "MZ-TEKUN", "applicant_name": "司徒春梅",
        "applicant_id_number": generate_id_number("510123", date(1995, 8, 8), 17), "applicant_phone": "13981234567",
        **fields, "f-tekun_category": "elderly"})
    assert response.status_code == 422
    assert "“申请人类别”为“老年人”时，申请人须年满 60 周岁" in response.get_data(as_text=True)
    with services.db.read() as session:
        assert session.scalar(select(Case.id).where(Case.applicant_name == "司徒春梅")) is None
