"""Deploying procedure folders: every kind of broken folder is refused with the file and element named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.config import ROOT
from engine.errors import DeployRefused
from engine.models import ProcedureVersion
from engine.procedures import bundle as catalog
from engine.procedures.deploy import deploy_folders
from engine.services import Services

ROLES = {"village_agent", "village_committee", "town_civil_affairs", "county_civil_affairs"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "dibao"
    shutil.copytree(ROOT / "bpmn" / "dibao", target)
    return target


def refused(folder: Path) -> DeployRefused:
    with pytest.raises(DeployRefused) as caught:
        catalog.read_folder(folder, ROLES)
    return caught.value


def edit(folder: Path, old: str, new: str, name: str = "process.bpmn") -> None:
    path = folder / name
    text = path.read_text("utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), "utf-8")


def everything(error: DeployRefused) -> str:
    return " ".join([error.message, *error.details])


def test_shipped_folders_are_valid() -> None:
    for name in ("dibao", "wubao", "zhaijidi"):
        bundle = catalog.read_folder(ROOT / "bpmn" / name, {
            "village_agent", "village_committee", "town_window", "town_civil_affairs", "town_land",
            "town_planning", "town_leader", "county_civil_affairs", "county_natural_resources"})
        assert bundle.process_id == name


def test_malformed_xml_names_the_file_and_line(folder: Path) -> None:
    edit(folder, "</bpmn:process>", "</bpmn:proces>")
    error = refused(folder)
    assert "process.bpmn" in error.message and "不是合法的 XML" in error.message


def test_external_entity_is_refused_not_resolved(folder: Path) -> None:
    edit(folder, "<bpmn:definitions", '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<bpmn:definitions')
    assert "DOCTYPE" in refused(folder).message


def test_oversized_diagram_is_refused_before_parsing(folder: Path) -> None:
    path = folder / "process.bpmn"
    path.write_text(path.read_text("utf-8") + "<!--" + "x" * (10 * 1024 * 1024) + "-->", "utf-8")
    assert "过大" in refused(folder).message


def test_unknown_lane_role(folder: Path) -> None:
    edit(folder, 'name="town_civil_affairs"', 'name="town_magic"')
    text = everything(refused(folder))
    assert "town_magic" in text and "town_review" in text


def test_user_task_outside_any_lane(folder: Path) -> None:
    edit(folder, "<bpmn:flowNodeRef>town_review</bpmn:flowNodeRef>", "")
    text = everything(refused(folder))
    assert "town_review" in text and "不在任何泳道" in text


def test_missing_form_file(folder: Path) -> None:
    (folder / "forms" / "town_review.schema.json").unlink()
    text = everything(refused(folder))
    assert "town_review.schema.json" in text and "不存在" in text


def test_user_task_without_a_form_is_accepted(folder: Path) -> None:
    edit(folder, '<spiffworkflow:property name="formJsonSchemaFilename" value="town_review.schema.json" />', "")
    edit(folder, '<spiffworkflow:property name="formUiSchemaFilename" value="town_review.uischema.json" />', "")
    assert catalog.read_folder(folder, ROLES).process_id == "dibao"


def test_invalid_form_schema(folder: Path) -> None:
    edit(folder, '"type": "object"', '"type": "objekt"', "forms/town_review.schema.json")
    text = everything(refused(folder))
    assert "town_review.schema.json" in text and "JSON Schema 无效" in text


@pytest.mark.parametrize("condition,reason", [
    ("__import__('os').system('true')", "__import__"),
    ("village_decision ==", "语法"),
    ("().__class__.__bases__[0].__subclasses__()", "__class__"),
])
def test_unsafe_or_broken_condition_names_the_element(folder: Path, condition: str, reason: str) -> None:
    edit(folder, 'village_decision == "approve"', condition.replace("'", "&apos;"))
    text = everything(refused(folder))
    assert "Flow_village_approve" in text and reason in text


def test_unsafe_script_task(folder: Path) -> None:
    script = ('<bpmn:scriptTask id="Script_evil" name="x"><bpmn:script>import os\nos.system("true")'
              '</bpmn:script></bpmn:scriptTask>')
    edit(folder, "</bpmn:process>", script + "</bpmn:process>")
    text = everything(refused(folder))
    assert "Script_evil" in text and "import" in text


def test_bad_service_guide(folder: Path) -> None:
    edit(folder, 'case_type = "escalated"', 'case_type = "someday"', "item.toml")
    assert "case_type" in everything(refused(folder))


def test_refused_deploy_stores_nothing_and_changed_folder_gets_new_version(services: Services, folder: Path) -> None:
    with services.db.read() as session:
        count = session.scalar(select(func.count()).select_from(ProcedureVersion))
    broken = folder.parent / "broken"
    shutil.copytree(folder, broken)
    edit(broken, 'name="town_civil_affairs"', 'name="nobody"')
    with pytest.raises(DeployRefused), services.db.write() as session:
        deploy_folders(session, [folder, broken])
    with services.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ProcedureVersion)) == count
    with services.db.write() as session:
        assert "未变化" in deploy_folders(session, [folder])[0]
    edit(folder, "promised_days = 30", "promised_days = 25", "item.toml")
    with services.db.write() as session:
        assert "新版本" in deploy_folders(session, [folder])[0]
