"""A spiff-arena process-model folder deploys as it is (plus Bianmin's service guide) and a case runs through it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from engine.config import Settings
from engine.demo import DEMO_PASSWORD
from engine.errors import DeployRefused
from engine.procedures import bundle
from engine.procedures.forms import COMMENT_FIELD, COMMENT_MAX_LENGTH
from engine.services import Services
from tests.conftest import make_services
from tests.procedures import applicant, fill
from tests.test_api import DONGPO, auth, counts, make_client

PROCESS_ID = "Process_dibao_lite_k3v9q"
DISPLAY_NAME = "低保申请（简版）"
ROLES = {"village_committee", "town_civil_affairs"}
TOWN_INSTRUCTIONS = "核对村委会初审材料，在办理意见中写明核对结果。"

# What spiff-arena writes for a process model (its ProcessModelInfo fields kept on disk).
PROCESS_MODEL = {
    "description": "村委会初审、乡镇核对的低保申请",
    "display_name": DISPLAY_NAME,
    "exception_notification_addresses": [],
    "fault_or_suspend_on_exception": "fault",
    "metadata_extraction_paths": None,
    "primary_file_name": "dibao-lite.bpmn",
    "primary_process_id": PROCESS_ID,
}

# (element id, x, y, width, height) of each shape, and the flows as (id, source, target, condition).
SHAPES = [
    ("Participant_lite", 120, 60, 900, 320), ("Lane_committee", 150, 60, 870, 160), ("Lane_town", 150, 220, 870, 160),
    ("StartEvent_1", 192, 122, 36, 36), ("Activity_village_review", 280, 100, 100, 80),
    ("Gateway_decision", 435, 115, 50, 50), ("Event_rejected", 542, 122, 36, 36),
    ("Activity_town_check", 600, 260, 100, 80), ("Event_approved", 782, 282, 36, 36),
]
FLOWS = [
    ("Flow_start", "StartEvent_1", "Activity_village_review", ""),
    ("Flow_to_decision", "Activity_village_review", "Gateway_decision", ""),
    ("Flow_reject", "Gateway_decision", "Event_rejected", 'village_decision == "reject"'),
    ("Flow_approve", "Gateway_decision", "Activity_town_check", 'village_decision == "approve"'),
    ("Flow_done", "Activity_town_check", "Event_approved", ""),
]


def _diagram() -> str:
    flows = "".join(
        f'<bpmn:sequenceFlow id="{flow}" sourceRef="{source}" targetRef="{target}">'
        + (f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>" if condition else "")
        + "</bpmn:sequenceFlow>\n" for flow, source, target, condition in FLOWS)
    by_id = {shape[0]: shape for shape in SHAPES}
    shapes = "".join(f'<bpmndi:BPMNShape id="{element}_di" bpmnElement="{element}"><dc:Bounds x="{x}" y="{y}" '
                     f'width="{width}" height="{height}" /></bpmndi:BPMNShape>\n'
                     for element, x, y, width, height in SHAPES)
    edges = "".join(f'<bpmndi:BPMNEdge id="{flow}_di" bpmnElement="{flow}">'
                    + "".join(f'<di:waypoint x="{by_id[end][1] + by_id[end][3] // 2}" '
                              f'y="{by_id[end][2] + by_id[end][4] // 2}" />' for end in (source, target))
                    + "</bpmndi:BPMNEdge>\n" for flow, source, target, _condition in FLOWS)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="Definitions_lite" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler"
  exporterVersion="3.0.0-dev">
<bpmn:collaboration id="Collaboration_lite">
  <bpmn:participant id="Participant_lite" name="{DISPLAY_NAME}" processRef="{PROCESS_ID}" />
</bpmn:collaboration>
<bpmn:process id="{PROCESS_ID}" name="{DISPLAY_NAME}" isExecutable="true">
  <bpmn:laneSet id="LaneSet_lite">
    <bpmn:lane id="Lane_committee" name="village_committee">
      <bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>Activity_village_review</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>Gateway_decision</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>Event_rejected</bpmn:flowNodeRef>
    </bpmn:lane>
    <bpmn:lane id="Lane_town" name="town_civil_affairs">
      <bpmn:flowNodeRef>Activity_town_check</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>Event_approved</bpmn:flowNodeRef>
    </bpmn:lane>
  </bpmn:laneSet>
  <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_start</bpmn:outgoing></bpmn:startEvent>
  <bpmn:userTask id="Activity_village_review" name="村委会初审">
    <bpmn:extensionElements>
      <spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="village-review-schema.json" />
        <spiffworkflow:property name="formUiSchemaFilename" value="village-review-uischema.json" />
      </spiffworkflow:properties>
      <spiffworkflow:instructionsForEndUser>入户核实家庭情况后提出初审意见。</spiffworkflow:instructionsForEndUser>
    </bpmn:extensionElements>
    <bpmn:incoming>Flow_start</bpmn:incoming>
    <bpmn:outgoing>Flow_to_decision</bpmn:outgoing>
  </bpmn:userTask>
  <bpmn:exclusiveGateway id="Gateway_decision" name="初审是否同意">
    <bpmn:incoming>Flow_to_decision</bpmn:incoming>
    <bpmn:outgoing>Flow_reject</bpmn:outgoing>
    <bpmn:outgoing>Flow_approve</bpmn:outgoing>
  </bpmn:exclusiveGateway>
  <bpmn:endEvent id="Event_rejected" name="不同意">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="caseResult" value="rejected" />
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:incoming>Flow_reject</bpmn:incoming>
  </bpmn:endEvent>
  <bpmn:userTask id="Activity_town_check" name="乡镇核对">
    <bpmn:extensionElements>
      <spiffworkflow:instructionsForEndUser>{TOWN_INSTRUCTIONS}</spiffworkflow:instructionsForEndUser>
    </bpmn:extensionElements>
    <bpmn:incoming>Flow_approve</bpmn:incoming>
    <bpmn:outgoing>Flow_done</bpmn:outgoing>
  </bpmn:userTask>
  <bpmn:endEvent id="Event_approved" name="办结">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="caseResult" value="approved" />
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:incoming>Flow_done</bpmn:incoming>
  </bpmn:endEvent>
{flows}</bpmn:process>
<bpmndi:BPMNDiagram id="BPMNDiagram_1">
<bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Collaboration_lite">
{shapes}{edges}</bpmndi:BPMNPlane>
</bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


FILES: dict[str, Any] = {
    "process_model.json": PROCESS_MODEL,
    "dibao-lite.bpmn": _diagram(),
    "application-schema.json": {
        "type": "object", "title": "低保申请", "required": ["household_size", "reason"],
        "properties": {"household_size": {"type": "integer", "title": "家庭人口", "minimum": 1, "maximum": 20},
                       "reason": {"type": "string", "title": "申请理由", "minLength": 2, "maxLength": 500}},
    },
    "application-uischema.json": {"reason": {"ui:widget": "textarea"}},
    "village-review-schema.json": {
        "type": "object", "title": "村委会初审", "required": ["village_decision"],
        "properties": {"village_decision": {"type": "string", "title": "初审结论",
                                            "oneOf": [{"const": "approve", "title": "同意"},
                                                      {"const": "reject", "title": "不同意"}]},
                       "village_opinion": {"type": "string", "title": "初审意见", "maxLength": 1000}},
    },
    "village-review-uischema.json": {"village_opinion": {"ui:widget": "textarea"}},
    # spiff-arena keeps example data and unit tests beside the diagram: neither is a form.
    "village-review-exampledata.json": {"village_decision": "approve"},
    "test_dibao-lite.json": {"test_case_1": {"tasks": {"Activity_village_review": {"data": [{}]}},
                                             "expected_output_json": {}}},
    "item.toml": """code = "MZ-DIBAO-LITE"
name = "农村低保申请（简版）"
case_type = "escalated"
promised_days = 20
statutory_days = 30
conditions = "本村户籍居民，家庭人均收入低于当地低保标准"
basis = "《社会救助暂行办法》第九条至第十一条"
fee = "免费"
application_form = "application-schema.json"

[[materials]]
name = "户主书面申请书"
required = true
copies = 1
""",
}


def spiff_folder(root: Path, without: tuple[str, ...] = ()) -> Path:
    folder = root / "dibao-lite"
    folder.mkdir()
    for name, content in FILES.items():
        if name not in without:
            text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, indent=2)
            (folder / name).write_text(text, "utf-8")
    return folder


def upload(folder: Path) -> dict[str, Any]:
    """Each file of the folder under the generic `files` field, named by its path in the folder."""
    return {"files": [(io.BytesIO(path.read_bytes()), path.relative_to(folder).as_posix())
                      for path in sorted(folder.rglob("*")) if path.is_file()]}


@pytest.fixture(scope="module")
def spiff_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """A database of its own: deploying adds an item other tests should not see."""
    svc = make_services("sqlite", tmp_path_factory.mktemp("spiff"), "bianmin_spiff")
    yield svc
    svc.db.dispose()


@pytest.fixture
def client(spiff_services: Services) -> FlaskClient:
    return make_client(spiff_services)


def test_folder_is_read_as_spiff_arena_lays_it_out(tmp_path: Path) -> None:
    folder = spiff_folder(tmp_path)
    read = bundle.read_folder(folder, ROLES, Settings.max_diagram_bytes)
    assert read.process_id == PROCESS_ID and read.warnings == []
    assert set(read.forms) == {"application-schema.json", "application-uischema.json",
                               "village-review-schema.json", "village-review-uischema.json"}
    # A second diagram is fine when process_model.json names the primary one; it is not deployed.
    (folder / "shared.bpmn").write_text(FILES["dibao-lite.bpmn"], "utf-8")
    [warning] = bundle.read_folder(folder, ROLES, Settings.max_diagram_bytes).warnings
    assert warning.file == "dibao-lite/shared.bpmn" and "dibao-lite.bpmn" in warning.message
    (folder / "process_model.json").unlink()
    with pytest.raises(DeployRefused) as caught:
        bundle.read_folder(folder, ROLES, Settings.max_diagram_bytes)
    [problem] = caught.value.problems
    assert problem.file == "dibao-lite" and "primary_file_name" in problem.message


def test_spiff_arena_folder_deployed_through_the_api_runs_a_case(client: FlaskClient, spiff_services: Services,
                                                                 tmp_path: Path) -> None:
    svc = spiff_services
    deployed = client.post("/api/v1/procedures", headers=auth(svc, "admin"), data=upload(spiff_folder(tmp_path)),
                           content_type="multipart/form-data")
    assert deployed.status_code == 201, deployed.json
    assert deployed.json == {"item_code": "MZ-DIBAO-LITE", "version": 1, "created": True, "warnings": []}
    items = client.get("/api/v1/items", headers=auth(svc, "dongpo_agent")).json["items"]
    item = next(entry for entry in items if entry["code"] == "MZ-DIBAO-LITE")
    assert item["application_schema"]["title"] == "低保申请"

    started = client.post("/api/v1/cases", headers=auth(svc, "dongpo_agent"), json={
        "item_code": "MZ-DIBAO-LITE", "village_code": DONGPO, "applicant": applicant(DONGPO),
        "data": fill(item["application_schema"])})
    assert started.status_code == 201, started.json
    case_id = started.json["id"]

    review = _post_task(client, svc, "dongpo_committee", case_id)
    assert review["step"] == "村委会初审" and review["form"] == "village-review-schema.json"
    schema = client.get(f"/api/v1/tasks/{review['id']}", headers=auth(svc, "dongpo_committee")).json["form_schema"]
    done = _complete(client, svc, "dongpo_committee", review["id"], fill(schema, "approve"))
    assert done.status_code == 200, done.json

    # The town's step has no form: its instructions and a comment box.
    check = _post_task(client, svc, "qingshui_civil", case_id)
    assert check["step"] == "乡镇核对" and check["form"] is None
    detail = client.get(f"/api/v1/tasks/{check['id']}", headers=auth(svc, "qingshui_civil")).json
    assert list(detail["form_schema"]["properties"]) == [COMMENT_FIELD]
    _web_login(client, "qingshui_civil")
    page = client.get(f"/tasks/{check['id']}").get_data(as_text=True)
    assert TOWN_INSTRUCTIONS in page and "办理意见" in page and "<textarea" in page

    before = counts(svc)
    too_long = _complete(client, svc, "qingshui_civil", check["id"], {COMMENT_FIELD: "核" * (COMMENT_MAX_LENGTH + 1)})
    assert too_long.status_code == 422 and f"最多填写 {COMMENT_MAX_LENGTH} 个字" in too_long.json["error"]
    unknown = _complete(client, svc, "qingshui_civil", check["id"], {"town_decision": "approve"})
    assert unknown.status_code == 400 and "“town_decision”不是" in unknown.json["error"]
    assert counts(svc) == before
    finished = _complete(client, svc, "qingshui_civil", check["id"], {COMMENT_FIELD: "已核对，材料齐全"})
    assert finished.status_code == 200, finished.json
    assert finished.json["status"] == "completed" and finished.json["result"] == "approved"

    case = client.get(f"/api/v1/cases/{case_id}", headers=auth(svc, "qingshui_civil")).json
    assert [step["step"] for step in case["data"]["steps"]] == ["村委会初审", "乡镇核对"]
    assert case["data"]["steps"][1]["data"] == {COMMENT_FIELD: "已核对，材料齐全"}
    history = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "办理意见" in history and "已核对，材料齐全" in history


def test_spiff_arena_folder_without_item_toml_names_the_fields_to_add(client: FlaskClient, spiff_services: Services,
                                                                     tmp_path: Path) -> None:
    before = counts(spiff_services)
    response = client.post("/api/v1/procedures", headers=auth(spiff_services, "admin"),
                           data=upload(spiff_folder(tmp_path, without=("item.toml",))),
                           content_type="multipart/form-data")
    assert response.status_code == 422
    [problem] = response.json["problems"]
    assert problem["file"] == "上传的流程/item.toml" and problem["severity"] == "error"
    for field in bundle.GUIDE_FIELDS:
        assert field in problem["message"], field
    assert "与 .bpmn 文件同级" in problem["message"] and DISPLAY_NAME in problem["message"]
    assert counts(spiff_services) == before


def _post_task(client: FlaskClient, svc: Services, username: str, case_id: int) -> dict[str, Any]:
    listed = client.get("/api/v1/tasks?scope=post", headers=auth(svc, username)).json["tasks"]
    [task] = [task for task in listed if task["case_id"] == case_id]
    return task


def _complete(client: FlaskClient, svc: Services, username: str, task_id: str, data: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/tasks/{task_id}/complete", headers=auth(svc, username), json={"data": data})


def _web_login(client: FlaskClient, username: str) -> None:
    with client.session_transaction() as session:
        token = session.setdefault("csrf_token", "test-csrf-token")
    response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 302
