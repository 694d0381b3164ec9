"""The three shipped procedures driven end to end through the engine alone, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import clock, scriptpool
from engine.audit import chain as audit
from engine.config import ROOT
from engine.errors import BianminError, Conflict, Forbidden, NotFound, StepFailed, ValidationFailed
from engine.models import Case, CaseEvent, ProcedureVersion, Task, Timer, User
from engine.people.accounts import set_away
from engine.procedures import forms
from engine.procedures.bundle import read_folder
from engine.procedures.deploy import current_version, deploy, deploy_folders, known_roles
from engine.services import Services
from engine.tasks import inbox
from tests.conftest import user_id
from tests.procedures import (
    AID_APPLICATION,
    AID_ITEM,
    AID_SCRIPTS,
    applicant,
    dibao_with_loop,
    dibao_with_scripts,
    fill,
)

DONGPO = "510123101201"


def start(svc: Services, item: str = "MZ-DIBAO", village: str = DONGPO, agent: str = "dongpo_agent",
          name: str | None = None) -> Case:
    with svc.db.read() as session:
        version = current_version(session, item)
        schema = version.forms[version.guide["application_form"]]
    person = applicant(village) | ({"name": name} if name else {})
    return svc.cases.start_case(user_id(svc, agent), item, village, person, fill(schema)).case


def known_roles_of(svc: Services) -> set[str]:
    with svc.db.read() as session:
        return known_roles(session)


def open_tasks(svc: Services, case_id: int) -> list[Task]:
    with svc.db.read() as session:
        return list(session.scalars(select(Task).where(Task.case_id == case_id, Task.status == "open")
                                    .order_by(Task.element_id)))


def holder(svc: Services, task: Task) -> int:
    with svc.db.read() as session:
        found = session.scalar(select(User.id).where(
            User.role_code == task.role_code, User.org_id == task.org_id, User.post_rank == "A"))
    assert found is not None
    return found


def form(svc: Services, task: Task, decision: str) -> dict:
    with svc.db.read() as session:
        case = session.get(Case, task.case_id)
        version = session.get(ProcedureVersion, case.version_id)
        return fill(version.forms[task.form_file], decision)


def drive(svc: Services, case: Case, reject_at: str | None = None) -> tuple[Case, list[str]]:
    """Work every task as its post's A holder; pass 公示 periods by moving the clock."""
    done: list[str] = []
    for _ in range(30):
        tasks = open_tasks(svc, case.id)
        if tasks:
            for task in tasks:
                decision = "reject" if task.element_id == reject_at else "approve"
                svc.cases.complete(holder(svc, task), task.id, form(svc, task, decision))
                done.append(task.element_id)
            continue
        with svc.db.read() as session:
            current = session.get(Case, case.id)
            waiting = session.scalar(select(func.count()).select_from(Timer).where(
                Timer.case_id == case.id, Timer.status == "waiting"))
        if current.status != "running" or not waiting:
            return current, done
        clock.travel(timedelta(days=8))
        assert svc.cases.run_due_timers() >= 1
    raise AssertionError("case did not finish")


APPROVE_PATHS = {
    "MZ-DIBAO": ["village_review", "town_investigation", "town_review", "publicity_confirm", "county_approval",
                 "result_publication"],
    "MZ-TEKUN": ["village_review", "town_investigation", "town_review", "publicity_result", "county_approval",
                 "sign_agreement", "issue_certificate"],
    "ZR-ZHAIJIDI": ["village_review", "intake", "agriculture_review", "land_survey", "planning_review", "town_review",
                    "issue_licences", "setting_out", "completion_inspection"],
}


@pytest.mark.parametrize("item", sorted(APPROVE_PATHS))
def test_approve_path_runs_to_completion(services: Services, item: str) -> None:
    case = start(services, item)
    assert case.case_number.startswith(f"{item}-20260302-")
    # 宅基地's clock waits for the town window's 受理 (tests/test_clock.py); the others start at once.
    assert (case.promised_date is None) == (item == "ZR-ZHAIJIDI")
    final, done = drive(services, case)
    assert (final.status, final.result) == ("completed", "approved")
    assert done == APPROVE_PATHS[item]
    with services.db.read() as session:
        assert audit.verify(session, case.id) == []
        kinds = list(session.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)))
    assert kinds[0] == "case_started" and kinds[-1] == "case_completed"
    assert kinds.count("task_completed") == len(done)


@pytest.mark.parametrize("item,reject_at", [
    ("MZ-DIBAO", "town_review"), ("MZ-DIBAO", "county_approval"),
    ("MZ-TEKUN", "county_approval"),
    ("ZR-ZHAIJIDI", "intake"), ("ZR-ZHAIJIDI", "town_review"),
])
def test_reject_path_ends_rejected(services: Services, item: str, reject_at: str) -> None:
    final, done = drive(services, start(services, item), reject_at=reject_at)
    assert (final.status, final.result) == ("completed", "rejected")
    assert done[-1] == reject_at


def test_tasks_route_to_the_case_village_town_and_county(services: Services) -> None:
    case = start(services, "MZ-DIBAO", village="510123102202", agent="hongyan_agent")  # 红岩村, 石桥镇
    [task] = open_tasks(services, case.id)
    with services.db.read() as session:
        org = session.get(User, holder(services, task)).org
    assert (task.role_code, org.code) == ("village_committee", "510123102202")
    services.cases.complete(holder(services, task), task.id, form(services, task, "approve"))
    [task] = open_tasks(services, case.id)
    with services.db.read() as session:
        assert session.get(User, holder(services, task)).username == "shiqiao_civil"


def test_parallel_agriculture_land_and_planning_review(services: Services) -> None:
    case = start(services, "ZR-ZHAIJIDI")
    [task] = open_tasks(services, case.id)
    services.cases.complete(holder(services, task), task.id, form(services, task, "approve"))
    clock.travel(timedelta(days=8))  # 村级公示
    assert services.cases.run_due_timers() >= 1
    [task] = open_tasks(services, case.id)
    services.cases.complete(holder(services, task), task.id, form(services, task, "approve"))
    assert [t.element_id for t in open_tasks(services, case.id)] == [
        "agriculture_review", "land_survey", "planning_review"]


def test_public_notice_timer_waits_seven_days(services: Services) -> None:
    case = start(services)
    for _ in ("village_review", "town_investigation", "town_review"):
        [task] = open_tasks(services, case.id)
        services.cases.complete(holder(services, task), task.id, form(services, task, "approve"))
    clock.travel(timedelta(days=6))
    assert services.cases.run_due_timers() == 0
    assert open_tasks(services, case.id) == []
    clock.travel(timedelta(days=2))
    assert services.cases.run_due_timers() == 1
    assert [t.element_id for t in open_tasks(services, case.id)] == ["publicity_confirm"]


def test_other_posts_cannot_act(services: Services) -> None:
    case = start(services)
    [task] = open_tasks(services, case.id)
    data = form(services, task, "approve")
    with pytest.raises(Forbidden):
        services.cases.complete(user_id(services, "hewan_agent"), task.id, data)
    with pytest.raises(Forbidden):
        services.cases.claim(user_id(services, "qingshui_civil"), task.id)
    with pytest.raises(Forbidden):
        start(services, village=DONGPO, agent="hewan_agent")


def test_completed_task_answers_conflict_naming_who(services: Services) -> None:
    case = start(services)
    [task] = open_tasks(services, case.id)
    committee = holder(services, task)
    services.cases.complete(committee, task.id, form(services, task, "approve"))
    with pytest.raises(Conflict, match="东坡村村委会") as caught:
        services.cases.complete(committee, task.id, form(services, task, "approve"))
    assert caught.value.status == 409


def test_only_agents_and_window_staff_accept_and_only_within_their_area(services: Services) -> None:
    hewan, liulin = "510123101202", "510123102201"
    case = start(services, village=hewan, agent="qingshui_window")  # the town window, for one of its villages
    assert case.village_id != case.town_id and open_tasks(services, case.id)[0].org_id == case.village_id
    with pytest.raises(Forbidden, match="不在您的辖区内"):
        start(services, village=liulin, agent="qingshui_window")  # 柳林村 belongs to 石桥镇
    with pytest.raises(Forbidden, match="只有村代办员和便民服务中心窗口人员"):
        start(services, agent="qingshui_civil")


def test_bad_input_changes_nothing(services: Services) -> None:
    case = start(services)
    [task] = open_tasks(services, case.id)
    committee = holder(services, task)
    with services.db.read() as session:
        before = session.scalar(select(func.count()).select_from(CaseEvent))
        state = session.get(Case, case.id).workflow_state
    bad = form(services, task, "approve") | {"village_decision": 5}
    with pytest.raises(ValidationFailed, match="取值|应填写"):
        services.cases.complete(committee, task.id, bad)
    with pytest.raises(ValidationFailed, match="必填"):
        services.cases.complete(committee, task.id, {})
    with pytest.raises(NotFound):
        services.cases.start_case(user_id(services, "dongpo_agent"), "NO-SUCH", DONGPO, applicant(), {})
    wrong_id = applicant() | {"id_number": "110101199003071235"}
    with pytest.raises(ValidationFailed, match="校验位"):
        services.cases.start_case(user_id(services, "dongpo_agent"), "MZ-DIBAO", DONGPO, wrong_id, {})
    with services.db.read() as session:
        assert session.scalar(select(func.count()).select_from(CaseEvent)) == before
        assert session.get(Case, case.id).workflow_state == state
        assert session.get(Task, task.id).status == "open"


def test_form_errors_are_keyed_by_the_field_they_concern() -> None:
    schema = {
        "type": "object", "required": ["size", "address"], "additionalProperties": False,
        "properties": {
            "size": {"type": "integer", "title": "人口"},
            "address": {"type": "object", "title": "住址", "required": ["village"],
                        "properties": {"village": {"type": "string", "title": "村"}}},
        },
    }
    with pytest.raises(ValidationFailed) as refused:
        forms.validate(schema, {"address": {}})
    # A missing field is keyed by its own name, a nested problem by its top-level field; a problem of
    # the whole form is listed but belongs to no field.
    assert refused.value.fields == {"size": ["“人口”为必填项"], "address": ["“村”为必填项"]}
    assert sorted(refused.value.details) == sorted(["“人口”为必填项", "“村”为必填项"])


def test_ab_post_backup_sees_and_works_away_holders_tasks(services: Services) -> None:
    case = start(services)
    [task] = open_tasks(services, case.id)
    services.cases.complete(holder(services, task), task.id, form(services, task, "approve"))
    [task] = open_tasks(services, case.id)
    a, b = user_id(services, "qingshui_civil"), user_id(services, "qingshui_civil_b")
    services.cases.claim(a, task.id)
    try:
        with services.db.write() as session:
            set_away(session, "qingshui_civil", True)
        with services.db.read() as session:
            b_user = session.get(User, b)
            mine = [t.id for t in inbox.tasks(session, b_user, "mine", limit=100)]
        assert task.id in mine
        services.cases.complete(b, task.id, form(services, task, "approve"))
    finally:
        with services.db.write() as session:
            set_away(session, "qingshui_civil", False)
    with services.db.read() as session:
        assert session.get(Task, task.id).completed_by_id == b


def test_a_script_that_never_ends_is_stopped_and_the_step_changes_nothing(services: Services, tmp_path: Path) -> None:
    # A copy of 低保 whose village review is followed by a script task with an endless loop.
    folder = dibao_with_scripts(tmp_path, "MZ-DIBAO-LOOP", {
        "Flow_village_to_gw": ("Script_loop", "统计", "n = 0\nwhile n >= 0:\n    n = n + 1"),
    })
    with services.db.write() as session:
        deploy_folders(session, [folder], services.settings.max_diagram_bytes)
    case = start(services, "MZ-DIBAO-LOOP")
    [task] = open_tasks(services, case.id)
    with services.db.read() as session:
        state = session.get(Case, case.id).workflow_state
    with pytest.raises(BianminError, match="Script_loop.*已被停止"):
        services.cases.complete(holder(services, task), task.id, form(services, task, "approve"))
    with services.db.read() as session:
        assert session.get(Case, case.id).workflow_state == state
        assert session.get(Task, task.id).status == "open"
    # The case's lock was let go: other cases move on at once.
    other = start(services)
    [other_task] = open_tasks(services, other.id)
    services.cases.complete(holder(services, other_task), other_task.id, form(services, other_task, "approve"))


@pytest.fixture
def roomy_script_budget() -> Iterator[None]:
    """Hundreds of worker round trips in one step: the depth limit, not the time budget, must be what stops them."""
    before = scriptpool.current_limits()
    scriptpool.configure(scriptpool.Limits(60, before.memory_mb, before.workers))
    yield
    scriptpool.configure(before)


@pytest.mark.usefixtures("roomy_script_budget")
def test_a_loop_too_deep_for_the_library_fails_the_step_and_the_case_is_not_reported_done(
        services: Services, tmp_path: Path) -> None:
    # After the village review a script → gateway → script loop runs 1,000 times: the library stops walking its task
    # tree at depth 1,000 and would call the case completed with the loop's gateway still waiting.
    with services.db.write() as session:
        deploy_folders(session, [dibao_with_loop(tmp_path, "MZ-DIBAO-DEEP", 1000),
                                 dibao_with_loop(tmp_path, "MZ-DIBAO-ROUNDS", 5)], services.settings.max_diagram_bytes)
    case = start(services, "MZ-DIBAO-DEEP")
    [task] = open_tasks(services, case.id)
    with services.db.read() as session:
        events = session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id))
        state = session.get(Case, case.id).workflow_state
    with pytest.raises(StepFailed, match="是否核对完毕.*超过上限.*未执行") as failed:
        services.cases.complete(holder(services, task), task.id, form(services, task, "approve"))
    # Held for an administrator's repair (tests/test_repair.py): only the failure is added to the history.
    assert failed.value.status == 202
    with services.db.read() as session:
        stored = session.get(Case, case.id)
        assert (stored.status, stored.completed_at, stored.result) == ("running", None, None)
        assert stored.workflow_state == state
        assert session.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.case_id == case.id)) == events + 1
        assert session.get(Task, task.id).status == "open"
    # A loop that ends in a few rounds goes on to the 公示 as the plain procedure does.
    rounds = start(services, "MZ-DIBAO-ROUNDS")
    [task] = open_tasks(services, rounds.id)
    step = services.cases.complete(holder(services, task), task.id, form(services, task, "approve"))
    assert step.case.status == "running" and step.case.variables["rounds"] == 5
    with services.db.read() as session:
        assert session.scalars(select(Timer.name).where(Timer.case_id == rounds.id)).all() == ["初审公示7天"]


def test_a_case_whose_path_stops_short_of_an_end_event_is_not_reported_done(services: Services,
                                                                           tmp_path: Path) -> None:
    # Deployed before deploying refused such diagrams: after the confirmation of the 公示 the path just stops.
    checked = read_folder(dibao_with_scripts(tmp_path, "MZ-DIBAO-OPEN-END", {}), known_roles_of(services),
                          services.settings.max_diagram_bytes)
    checked.bpmn_xml, removed = re.subn(r'<bpmn:sequenceFlow id="Flow_confirm_to_end"[^>]*/>', "", checked.bpmn_xml)
    assert removed == 1
    with services.db.write() as session:
        deploy(session, checked, "system")
    case = start(services, "MZ-DIBAO-OPEN-END")
    with pytest.raises(StepFailed, match="没有到达结束事件.*未执行"):
        drive(services, case)
    with services.db.read() as session:
        assert session.get(Case, case.id).status == "running"
    assert [t.element_id for t in open_tasks(services, case.id)] == ["publicity_confirm"]


def test_values_set_by_scripts_are_case_data_recorded_in_the_history(services: Services, tmp_path: Path) -> None:
    with services.db.write() as session:
        folder = dibao_with_scripts(tmp_path, AID_ITEM, AID_SCRIPTS)
        deploy_folders(session, [folder], services.settings.max_diagram_bytes)
    case = services.cases.start_case(user_id(services, "dongpo_agent"), AID_ITEM, DONGPO, applicant(),
                                     AID_APPLICATION).case
    assert case.variables == {"aid_amount": 300, "eligible": True, "note": "待村委会核实",
                              "review_by": "2026-03-16T00:00:00"}
    [task] = open_tasks(services, case.id)
    services.cases.complete(holder(services, task), task.id, form(services, task, "approve"))
    clock.travel(timedelta(days=8))
    services.cases.run_due_timers()
    [task] = open_tasks(services, case.id)
    services.cases.complete(holder(services, task), task.id, form(services, task, "approve"))
    with services.db.read() as session:
        assert session.get(Case, case.id).variables == {"aid_amount": 350, "eligible": True, "monthly_allowance": 350,
                                                        "review_by": "2026-03-16T00:00:00"}
        events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)))
        assert audit.verify(session, case.id) == []
    assert [e.kind for e in events[:3]] == ["case_started", "variables_set", "task_created"]
    # The village review's own event comes before what the script after it computed; 复核 changed nothing.
    assert [(e.step, e.before, e.after) for e in events if e.kind == "variables_set"] == [
        ("核算救助金额", None, {"aid_amount": 300, "eligible": True, "note": "待村委会核实",
                          "review_by": "2026-03-16T00:00:00"}),
        ("调整救助金额", {"aid_amount": 300, "note": "待村委会核实"}, {"aid_amount": 350, "monthly_allowance": 350}),
    ]
    kinds = [e.kind for e in events]
    assert kinds.index("variables_set", 2) > kinds.index("task_completed")


def test_a_date_set_by_a_script_is_saved_with_the_case(services: Services, tmp_path: Path) -> None:
    scripts = {"Flow_start": ("Script_visit", "安排入户调查", "visit_on = date(2026, 3, 9)")}
    with services.db.write() as session:
        deploy_folders(session, [dibao_with_scripts(tmp_path, "MZ-DIBAO-VISIT", scripts)],
                       services.settings.max_diagram_bytes)
    case = services.cases.start_case(user_id(services, "dongpo_agent"), "MZ-DIBAO-VISIT", DONGPO, applicant(),
                                     AID_APPLICATION).case
    assert case.variables == {"visit_on": "2026-03-09"}
    # Read back from the database, not from this process's cache: the date comes back a date.
    services.cases.states.take(case.id, case.revision)
    with services.db.read() as session:
        stored = session.get(Case, case.id)
        workflow = services.cases.load(stored, services.cases.versions.get(session, stored.version_id))
    [ready] = [task for task in workflow.get_tasks() if task.task_spec.manual and task.data.get("visit_on")]
    assert ready.data["visit_on"] == date(2026, 3, 9)


def test_what_user_tasks_pre_and_post_scripts_set_is_recorded_with_their_steps(services: Services,
                                                                              tmp_path: Path) -> None:
    folder = dibao_with_scripts(tmp_path, "MZ-DIBAO-PREPOST", {})
    diagram = folder / "process.bpmn"
    xml = diagram.read_text("utf-8").replace(
        "<spiffworkflow:instructionsForEndUser>入户调查",
        "<spiffworkflow:postScript>village_agreed = village_decision == 'approve'</spiffworkflow:postScript>"
        "<spiffworkflow:instructionsForEndUser>入户调查", 1)
    # The town review becomes ready when the 公示 timer fires, and its pre-script runs then.
    xml = xml.replace('name="乡镇审核">\n      <bpmn:extensionElements>',
                      'name="乡镇审核"><bpmn:extensionElements>'
                      "<spiffworkflow:preScript>notice_days = 7</spiffworkflow:preScript>", 1)
    diagram.write_text(xml, "utf-8")
    with services.db.write() as session:
        deploy_folders(session, [folder], services.settings.max_diagram_bytes)
    case = start(services, "MZ-DIBAO-PREPOST")
    [task] = open_tasks(services, case.id)
    step = services.cases.complete(holder(services, task), task.id, form(services, task, "approve"))
    assert step.case.variables == {"village_agreed": True}
    clock.travel(timedelta(days=8))
    assert services.cases.run_due_timers() == 1
    with services.db.read() as session:
        assert session.get(Case, case.id).variables == {"village_agreed": True, "notice_days": 7}
        computed = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                           CaseEvent.kind == "variables_set").order_by(CaseEvent.seq))
        assert [(e.step, e.after) for e in computed] == [("村委会初审", {"village_agreed": True}),
                                                       ("乡镇审核", {"notice_days": 7})]


def test_cases_of_procedures_without_scripts_hold_no_variables(services: Services) -> None:
    final, _ = drive(services, start(services))
    assert final.variables is None
    with services.db.read() as session:
        kinds = set(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == final.id)))
    assert "variables_set" not in kinds


def test_running_cases_stay_on_their_version(services: Services, tmp_path: Path) -> None:
    case = start(services, "MZ-TEKUN")
    folder = tmp_path / "tekun"
    shutil.copytree(ROOT / "bpmn" / "tekun", folder)
    toml = folder / "item.toml"
    # A changed guide makes a new version; its time limits stay, as later tests of the session count on them.
    toml.write_text(toml.read_text("utf-8").replace("的未成年人。", "的未成年人（以省级规定为准）。"), "utf-8")
    with services.db.write() as session:
        [done] = deploy_folders(session, [folder], services.settings.max_diagram_bytes)
    assert done.created and "新版本" in str(done)
    newer = start(services, "MZ-TEKUN")
    assert newer.version_id != case.version_id
    final, _ = drive(services, case)
    assert final.result == "approved" and final.version_id == case.version_id
