"""Deploying procedure folders: every kind of broken folder is refused with the file and element named."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.config import ROOT, Settings
from engine.errors import DeployRefused, Problem, Severity
from engine.models import ProcedureVersion
from engine.procedures import bundle as catalog
from engine.procedures.deploy import deploy_folders
from engine.services import Services
from tests.procedures import SEED_SHAPE

ROLES = {"village_agent", "village_committee", "town_civil_affairs", "county_civil_affairs"}
LIMIT = Settings.max_diagram_bytes


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    # The deploy checks edit the seed-shaped 低保: its yes/no gateways are where these tests put their broken code.
    target = tmp_path / "dibao"
    shutil.copytree(SEED_SHAPE, target)
    return target


def refused(folder: Path, limit: int = LIMIT) -> DeployRefused:
    with pytest.raises(DeployRefused) as caught:
        catalog.read_folder(folder, ROLES, limit)
    return caught.value


def problem_at(error: DeployRefused, element_id: str | None) -> Problem:
    [found] = [problem for problem in error.problems if problem.element_id == element_id]
    return found


def edit(folder: Path, old: str, new: str, name: str = "process.bpmn") -> None:
    path = folder / name
    text = path.read_text("utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), "utf-8")


def everything(error: DeployRefused) -> str:
    return " ".join([error.message, *error.details])


def test_shipped_folders_are_valid() -> None:
    for name in ("dibao", "tekun", "zhaijidi"):
        bundle = catalog.read_folder(ROOT / "bpmn" / name, {
            "village_agent", "village_committee", "town_window", "town_civil_affairs", "town_agriculture", "town_land",
            "town_planning", "town_leader", "county_civil_affairs", "county_natural_resources"}, LIMIT)
        assert bundle.process_id == name and bundle.warnings == []


def test_malformed_xml_names_the_file_and_line(folder: Path) -> None:
    edit(folder, "</bpmn:process>", "</bpmn:proces>")
    [problem] = refused(folder).problems
    assert problem.file == "dibao/process.bpmn" and "不是合法的 XML（第" in problem.message


def test_external_entity_is_refused_not_resolved(folder: Path) -> None:
    edit(folder, "<bpmn:definitions", '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<bpmn:definitions')
    assert "DOCTYPE" in everything(refused(folder))


def test_diagram_over_the_configured_limit_is_refused_before_parsing(folder: Path) -> None:
    [problem] = refused(folder, limit=16 * 1024).problems
    assert problem.file == "dibao/process.bpmn" and "过大" in problem.message and "16 KB" in problem.message


def test_unknown_lane_role(folder: Path) -> None:
    edit(folder, 'name="town_civil_affairs"', 'name="town_magic"')
    # Marked on the lane, where the modeler chooses the post, not on each of its user tasks.
    problem = problem_at(refused(folder), "Lane_town_civil_affairs")
    assert (problem.file, problem.element_name, problem.severity) == ("dibao/process.bpmn", "town_magic", "error")
    assert "town_magic" in problem.message and "不是已知的角色代码" in problem.message


def test_user_task_outside_any_lane(folder: Path) -> None:
    edit(folder, "<bpmn:flowNodeRef>town_review</bpmn:flowNodeRef>", "")
    problem = problem_at(refused(folder), "town_review")
    assert problem.file == "dibao/process.bpmn" and "不在任何泳道" in problem.message


def test_missing_form_file(folder: Path) -> None:
    (folder / "forms" / "town_review.schema.json").unlink()
    problem = problem_at(refused(folder), "town_review")
    assert problem.element_name == "乡镇审核"
    assert "town_review.schema.json" in problem.message and "不存在" in problem.message


def test_user_task_without_a_form_is_accepted(folder: Path) -> None:
    edit(folder, '<spiffworkflow:property name="formJsonSchemaFilename" value="town_review.schema.json" />', "")
    edit(folder, '<spiffworkflow:property name="formUiSchemaFilename" value="town_review.uischema.json" />', "")
    assert catalog.read_folder(folder, ROLES, LIMIT).process_id == "dibao"


def test_invalid_form_schema(folder: Path) -> None:
    edit(folder, '"type": "object"', '"type": "objekt"', "forms/town_review.schema.json")
    error = refused(folder)
    problem = problem_at(error, None)
    assert problem.file == "dibao/forms/town_review.schema.json" and "JSON Schema 无效" in problem.message


@pytest.mark.parametrize("condition,reason", [
    ("__import__('os').system('true')", "__import__"),
    ("village_decision ==", "语法"),
    ("().__class__.__bases__[0].__subclasses__()", "__class__"),
])
def test_unsafe_or_broken_condition_names_the_element(folder: Path, condition: str, reason: str) -> None:
    edit(folder, 'village_decision == "approve"', condition.replace("'", "&apos;"))
    problem = problem_at(refused(folder), "Flow_village_approve")
    assert problem.element_name == "同意" and problem.message.startswith("条件表达式") and reason in problem.message


def test_unsafe_script_task(folder: Path) -> None:
    script = ('<bpmn:scriptTask id="Script_evil" name="x"><bpmn:script>import os\nos.system("true")'
              '</bpmn:script></bpmn:scriptTask>'
              '<bpmn:sequenceFlow id="Flow_evil_end" sourceRef="Script_evil" targetRef="EndEvent_rejected_village" />')
    edit(folder, "</bpmn:process>", script + "</bpmn:process>")
    problem = problem_at(refused(folder), "Script_evil")
    assert problem.element_name == "x" and "import" in problem.message


def test_unsafe_pre_script_names_its_user_task(folder: Path) -> None:
    edit(folder, "<spiffworkflow:instructionsForEndUser>审核初审材料",
         "<spiffworkflow:preScript>import os</spiffworkflow:preScript>"
         "<spiffworkflow:instructionsForEndUser>审核初审材料")
    problem = problem_at(refused(folder), "town_review")
    assert problem.message.startswith("前置脚本不安全") and "import" in problem.message


def test_bad_service_guide(folder: Path) -> None:
    edit(folder, 'case_type = "escalated"', 'case_type = "someday"', "item.toml")
    [problem] = refused(folder).problems
    assert problem.file == "dibao/item.toml" and "case_type" in problem.message


def test_service_guide_missing_fields_names_each(folder: Path) -> None:
    edit(folder, 'fee = "免费"\n', "", "item.toml")
    edit(folder, 'promised_days = 30\n', "", "item.toml")
    messages = [problem.message for problem in refused(folder).problems if problem.file == "dibao/item.toml"]
    assert len(messages) == 2
    assert any("promised_days" in m and "工作日" in m for m in messages) and any("fee" in m for m in messages)


def diagram_length_only(folder: Path) -> None:
    """Drop item.toml's length for the village 公示, so the diagram's own timer expression is what runs."""
    guide = folder / "item.toml"
    guide.write_text(re.sub(r"\[timers\.Timer_village_publicity\][^\[]*", "", guide.read_text("utf-8")), "utf-8")


@pytest.mark.parametrize("timer,value", [
    ("timeDuration", '"P7X"'),
    ("timeDuration", "7"),
    ("timeDate", '"2026-13-01T09:00:00+08:00"'),
    ("timeDate", '"P7D"'),
    ("timeCycle", '"R3/PT1X"'),
])
def test_timer_literal_that_would_fail_when_reached(folder: Path, timer: str, value: str) -> None:
    diagram_length_only(folder)
    edit(folder, '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P7D"</bpmn:timeDuration>',
         f'<bpmn:{timer} xsi:type="bpmn:tFormalExpression">{value}</bpmn:{timer}>')
    problem = problem_at(refused(folder), "Timer_village_publicity")
    assert problem.element_name == "初审公示7天" and "ISO 8601" in problem.message


@pytest.mark.parametrize("timer,value", [
    ("timeDuration", '"PT36H"'),
    ("timeDuration", 'f"P{household_size}D"'),
    ("timeDate", '"2026-05-01T09:00:00+08:00"'),
    ("timeCycle", '"R3/PT10M"'),
])
def test_valid_or_computed_timer_values_pass(folder: Path, timer: str, value: str) -> None:
    diagram_length_only(folder)
    edit(folder, '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P7D"</bpmn:timeDuration>',
         f'<bpmn:{timer} xsi:type="bpmn:tFormalExpression">{value}</bpmn:{timer}>')
    assert catalog.read_folder(folder, ROLES, LIMIT).warnings == []


def test_shape_drawn_for_a_missing_element(folder: Path) -> None:
    edit(folder, '<bpmndi:BPMNShape id="Lane_village_agent_di"',
         '<bpmndi:BPMNShape id="Shape_ghost" bpmnElement="Activity_gone"><dc:Bounds x="0" y="0" width="9" '
         'height="9" /></bpmndi:BPMNShape><bpmndi:BPMNShape id="Lane_village_agent_di"')
    edit(folder, 'bpmnElement="Flow_start"', 'bpmnElement="Flow_gone"')
    error = refused(folder)
    assert "Activity_gone" in problem_at(error, "Shape_ghost").message
    assert "Flow_gone" in problem_at(error, "Flow_start_di").message


def test_spiffworkflow_parse_error_keeps_the_element(folder: Path) -> None:
    edit(folder, 'sourceRef="village_review" targetRef="Gateway_village"',
         'sourceRef="village_review" targetRef="Gateway_nowhere"')
    problem = problem_at(refused(folder), "village_review")
    assert problem.element_name == "村委会初审" and "SpiffWorkflow 无法解析" in problem.message


def test_condition_reading_a_variable_nothing_sets_is_a_warning(services: Services, folder: Path) -> None:
    edit(folder, 'village_decision == "approve"', 'village_decison == "approve" and case_number and len(applicant)')
    edit(folder, "<bpmn:userTask id=\"town_review\"",
         '<bpmn:scriptTask id="Script_tally" name="统计"><bpmn:script>score = sum(x for x in [household_size])\n'
         'def twice(n):\n    return n * 2\nlevel = twice(score) + round(1.5)</bpmn:script></bpmn:scriptTask>'
         "<bpmn:userTask id=\"town_review\"")
    edit(folder, "</bpmn:process>", '<bpmn:sequenceFlow id="Flow_tally_check" sourceRef="Gateway_village" '
         'targetRef="EndEvent_rejected_village"><bpmn:conditionExpression>level &gt; 3 and scroe &gt; 1'
         "</bpmn:conditionExpression></bpmn:sequenceFlow>"
         '<bpmn:sequenceFlow id="Flow_tally_end" sourceRef="Script_tally" targetRef="EndEvent_rejected_village" />'
         "</bpmn:process>")
    edit(folder, 'code = "MZ-DIBAO"', 'code = "MZ-DIBAO-TYPO"', "item.toml")
    with services.db.write() as session:
        [done] = deploy_folders(session, [folder], services.settings.max_diagram_bytes)
    assert done.created
    by_element = {problem.element_id: problem for problem in done.warnings}
    assert set(by_element) == {"Flow_village_approve", "Flow_tally_check"}
    typo = by_element["Flow_village_approve"]
    assert typo.severity == Severity.WARNING and typo.file == "dibao/process.bpmn" and typo.element_name == "同意"
    assert "village_decison" in typo.message and "“village_decision”" in typo.message
    assert "scroe" in by_element["Flow_tally_check"].message and "level" not in by_element["Flow_tally_check"].message


def test_refused_deploy_stores_nothing_and_changed_folder_gets_new_version(services: Services, tmp_path: Path) -> None:
    # The shipped 低保 as deployed: unchanged, it makes no new version.
    folder = tmp_path / "dibao"
    shutil.copytree(ROOT / "bpmn" / "dibao", folder)
    with services.db.read() as session:
        count = session.scalar(select(func.count()).select_from(ProcedureVersion))
    broken = folder.parent / "broken"
    shutil.copytree(folder, broken)
    edit(broken, 'name="town_civil_affairs"', 'name="nobody"')
    limit = services.settings.max_diagram_bytes
    with pytest.raises(DeployRefused), services.db.write() as session:
        deploy_folders(session, [folder, broken], limit)
    with services.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ProcedureVersion)) == count
    with services.db.write() as session:
        assert "未变化" in str(deploy_folders(session, [folder], limit)[0])
    edit(folder, "promised_days = 30", "promised_days = 25", "item.toml")
    with services.db.write() as session:
        assert "新版本" in str(deploy_folders(session, [folder], limit)[0])


APPROVE_CONDITION = '>village_decision == "approve"<'


@pytest.mark.parametrize(("source", "reason"), [
    ("1+" * 50_000 + "1", "嵌套过深或过长"),
    ("(" * 5_000 + "1" + ")" * 5_000, "括号嵌套过深"),
    ("-" * 50_000 + "1", "嵌套过深或过长"),
    ("a" + ".b" * 50_000, "嵌套过深或过长"),
])
def test_deeply_nested_expressions_are_refused_not_crashed_on(folder: Path, source: str, reason: str) -> None:
    edit(folder, APPROVE_CONDITION, f">{source}<")
    problem = problem_at(refused(folder), "Flow_village_approve")
    assert "条件表达式" in problem.message and reason in problem.message


def test_a_deeply_nested_script_is_refused_not_crashed_on(folder: Path) -> None:
    edit(folder, "<spiffworkflow:instructionsForEndUser>入户调查",
         f"<spiffworkflow:preScript>total = {'1+' * 50_000}1</spiffworkflow:preScript>"
         "<spiffworkflow:instructionsForEndUser>入户调查")
    problem = problem_at(refused(folder), "village_review")
    assert "前置脚本" in problem.message and "嵌套过深或过长" in problem.message


MULTI_INSTANCE = ("<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>{cardinality}</bpmn:loopCardinality>"
                  "<bpmn:completionCondition>{completion}</bpmn:completionCondition>"
                  "</bpmn:multiInstanceLoopCharacteristics>")


@pytest.mark.parametrize(("where", "kind"), [
    ("preScript", "前置脚本"), ("postScript", "后置脚本"), ("loopCardinality", "多实例数量表达式"),
    ("completionCondition", "完成条件"),
])
def test_every_place_code_sits_in_is_checked_like_scripts(folder: Path, where: str, kind: str) -> None:
    hostile = "__import__('os').getpid()"
    if where in ("preScript", "postScript"):
        edit(folder, "<spiffworkflow:instructionsForEndUser>入户调查",
             f"<spiffworkflow:{where}>{hostile}</spiffworkflow:{where}><spiffworkflow:instructionsForEndUser>入户调查")
    else:
        code = {"cardinality": hostile if where == "loopCardinality" else "3",
                "completion": hostile if where == "completionCondition" else "True"}
        edit(folder, "<bpmn:outgoing>Flow_village_to_gw</bpmn:outgoing>",
             "<bpmn:outgoing>Flow_village_to_gw</bpmn:outgoing>" + MULTI_INSTANCE.format(**code))
    problem = problem_at(refused(folder), "village_review")
    assert kind in problem.message and "__import__" in problem.message
