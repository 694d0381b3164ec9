"""The form editor's converter: every shipped form opens and saves back unchanged; bad definitions are refused."""

from __future__ import annotations

import json
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from engine.config import Settings
from engine.demo import COUNTY_POSTS, TOWN_POSTS, VILLAGE_POSTS
from engine.errors import ValidationFailed
from engine.procedures import bundle, forms
from engine.procedures.formdesign import (
    ID_NUMBER_PATTERN,
    FormDesignRefused,
    design_from_files,
    file_texts,
    files_from_design,
)

BPMN = Path(__file__).resolve().parent.parent / "bpmn"
SHIPPED = sorted(BPMN.glob("*/forms/*.schema.json"))
ROLES = {role for _, role in VILLAGE_POSTS + TOWN_POSTS + COUNTY_POSTS}


def _files(path: Path) -> tuple[str, str]:
    return path.read_text("utf-8"), path.with_name(path.name.replace(".schema.", ".uischema.")).read_text("utf-8")


def _through_browser(design: dict[str, Any]) -> dict[str, Any]:
    """The model as the page sends it back: JSON, nothing else."""
    return json.loads(json.dumps(design))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_shipped_form_opens_and_saves_back_unchanged(path: Path) -> None:
    schema_text, ui_text = _files(path)
    design = design_from_files(schema_text, ui_text)
    assert "raw" not in {field["type"] for field in design["fields"]}, "every shipped field is editable"
    schema, ui = files_from_design(_through_browser(design))
    assert schema == json.loads(schema_text)
    assert ui == json.loads(ui_text)


def test_shipped_forms_cover_the_editors_types() -> None:
    kinds = {field["type"] for path in SHIPPED for field in design_from_files(*_files(path))["fields"]}
    assert kinds == {"integer", "number", "yesno", "textarea", "text", "choice", "date", "id_number"}


def test_a_procedure_whose_forms_all_went_through_the_editor_still_deploys_clean() -> None:
    folder = BPMN / "zhaijidi"
    files = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    for path in SHIPPED:
        if path.parent.parent == folder:
            name = path.name.removesuffix(".schema.json")
            schema, ui = files_from_design(_through_browser(design_from_files(*_files(path))))
            files.update({k: v.encode() for k, v in file_texts(name, schema, ui).items()})
    read = bundle.read_files("zhaijidi", files, ROLES, Settings.max_diagram_bytes)
    assert read.forms["intake.schema.json"]["then"] == {"required": ["intake_reject_reason"]}


def field(**values: Any) -> dict[str, Any]:
    base = {"key": "x", "title": "字段", "type": "text", "required": False, "description": "", "help": "",
            "placeholder": "", "min": None, "max": None, "min_exclusive": False, "max_exclusive": False,
            "min_length": None, "max_length": None, "pattern": "", "options": [], "widget": "", "rows": None}
    return {**base, **values}


def form(*fields: dict[str, Any], **values: Any) -> dict[str, Any]:
    return {"title": "残疾人两项补贴申请", "description": "", "fields": list(fields), **values}


def test_a_new_form_of_every_type_is_written_as_the_task_page_reads_it() -> None:
    schema, ui = files_from_design(form(
        field(key="name_of_guardian", title="监护人姓名", max_length="50", placeholder="与户口簿一致", required=True),
        field(key="situation", title="家庭困难情况", type="textarea", min_length="5", max_length="1000", rows="5",
              help="写明收入来源与支出"),
        field(key="disability_level", title="残疾等级", type="integer", min="1", max="4", required=True),
        field(key="monthly_income", title="月收入(元)", type="number", min="0", min_exclusive=True, max="100000.5"),
        field(key="issued_on", title="残疾人证发证日期", type="date"),
        field(key="lives_alone", title="是否独居", type="yesno", widget="radio"),
        field(key="disability_kind", title="残疾类别", type="choice", widget="select",
              options=[{"value": "visual", "label": "视力残疾"}, {"value": "hearing", "label": "听力残疾"}]),
        field(key="guardian_id", title="监护人身份证号码", type="id_number"),
        field(key="guardian_phone", title="监护人联系电话", type="phone"),
        field(key="promise", title="承诺所填属实", type="confirm", required=True),
    ))
    props = schema["properties"]
    assert schema["required"] == ["name_of_guardian", "disability_level", "promise"]
    assert props["name_of_guardian"] == {"type": "string", "title": "监护人姓名", "maxLength": 50}
    assert props["situation"]["minLength"] == 5 and ui["situation"] == {
        "ui:widget": "textarea", "ui:options": {"rows": 5}, "ui:help": "写明收入来源与支出"}
    assert props["disability_level"] == {"type": "integer", "title": "残疾等级", "minimum": 1, "maximum": 4}
    assert props["monthly_income"]["exclusiveMinimum"] == 0 and props["monthly_income"]["maximum"] == 100000.5
    assert props["issued_on"]["format"] == "date"
    assert props["disability_kind"]["oneOf"][1] == {"const": "hearing", "title": "听力残疾"}
    assert ui["name_of_guardian"] == {"ui:placeholder": "与户口簿一致"}
    assert ui["ui:order"][0] == "name_of_guardian" and len(ui["ui:order"]) == 10
    good = {"name_of_guardian": "张桂兰", "disability_level": 2, "promise": True, "guardian_id": "51012319800101123X",
            "guardian_phone": "028-86123456", "lives_alone": False, "disability_kind": "visual"}
    assert forms.validate(schema, good) == good
    with pytest.raises(ValidationFailed) as refused:
        forms.validate(schema, {**good, "guardian_id": "5101231980", "guardian_phone": "123", "monthly_income": 0})
    assert set(refused.value.fields) == {"guardian_id", "guardian_phone", "monthly_income"}
    # And it opens again as written.
    again = design_from_files(*file_texts("x", schema, ui).values())
    assert [f["type"] for f in again["fields"]] == ["text", "textarea", "integer", "number", "date", "yesno",
                                                    "choice", "id_number", "phone", "confirm"]
    assert files_from_design(again) == (schema, ui)


def test_a_text_field_without_a_short_limit_stays_one_line() -> None:
    schema, ui = files_from_design(form(field(key="village_group", title="所在村民小组")))
    assert ui["village_group"] == {"ui:widget": "text"}
    assert design_from_files(json.dumps(schema), json.dumps(ui))["fields"][0]["type"] == "text"


def refusals(design: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(FormDesignRefused) as refused:
        files_from_design(design)
    return refused.value.fields


@pytest.mark.parametrize(("bad", "expected"), [
    (field(key="家庭人口"), "字段名“家庭人口”无效"),
    (field(key="1st"), "应以英文字母开头"),
    (field(key="class"), "字段名“class”无效"),
    (field(key="case_number"), "系统保留的名称"),
    (field(key="len"), "系统保留的名称"),
    (field(key=""), "请填写字段名"),
    (field(title=""), "请填写中文名称"),
    (field(type="photo"), "请选择字段类型"),
    (field(type="integer", min="10", max="2"), "最小值 10 大于最大值 2"),
    (field(type="integer", min="3", max="3", max_exclusive=True), "最小值 3 大于最大值 3"),
    (field(type="integer", min="1.5"), "最小值应为整数"),
    (field(type="number", max="很多"), "最大值应为数字"),
    (field(min_length="20", max_length="10"), "最少字数 20 大于最多字数 10"),
    (field(min_length="-1"), "最少字数不能小于 0"),
    (field(pattern="^[0-9"), "格式规则（正则表达式）无法使用：方括号 [ ] 没有闭合"),
    (field(pattern="*a"), "无法使用：重复符号（* + ? {}）前面没有内容"),
    (field(type="choice", options=[]), "请至少添加一个选项"),
    (field(type="choice", options=[{"value": "a", "label": "甲"}, {"value": "a", "label": "乙"}]), "选项取值“a”重复"),
    (field(type="choice", options=[{"value": "a", "label": ""}]), "取值和显示文字都要填写"),
    (field(type="textarea", rows="99"), "显示行数应在 1 到 30 之间"),
])
def test_bad_definitions_are_refused_on_their_field_in_chinese(bad: dict[str, Any], expected: str) -> None:
    problems = refusals(form(field(key="applicant_note", title="申请说明"), bad))
    assert list(problems) == ["1"]
    assert any(expected in message for message in problems["1"]), problems


def test_duplicate_keys_are_refused_on_the_second_field() -> None:
    problems = refusals(form(field(key="reason", title="申请理由"), field(key="other", title="其他"),
                             field(key="reason", title="补充理由")))
    assert problems == {"2": ["“补充理由”：字段名“reason”与第 1 个字段重复"]}


def test_every_problem_is_listed_at_once() -> None:
    problems = refusals(form(field(key="a b"), field(key="n", type="number", min="5", max="1"), title=""))
    assert set(problems) == {"", "0", "1"} and problems[""] == ["请填写表单名称"]


def test_a_form_needs_a_field_and_a_well_formed_model() -> None:
    assert refusals(form()) == {"": ["表单至少要有一个字段"]}
    for bad in (None, [], {"fields": "reason"}):
        with pytest.raises(FormDesignRefused, match="表单定义格式不正确"):
            files_from_design(bad)


def test_a_kept_condition_must_still_name_fields_of_the_form() -> None:
    design = design_from_files(*_files(BPMN / "dibao/forms/county_approval.schema.json"))
    renamed = deepcopy(design)
    renamed["fields"][2]["key"] = "allowance"
    assert "monthly_allowance" in refusals(renamed)[""][0]
    design["fields"].pop()
    assert "条件规则引用了不存在的字段" in refusals(design)[""][0]


def test_fields_beyond_the_editor_are_kept_whole() -> None:
    schema = {"type": "object", "title": "家庭成员", "properties": {
        "members": {"type": "array", "title": "家庭成员", "items": {"type": "string"}},
        "email": {"type": "string", "title": "电子邮箱", "format": "email"},
        "size": {"type": "integer", "title": "人口", "minimum": 1, "default": 3}}}
    ui = {"members": {"ui:options": {"orderable": False}}, "size": {"ui:autofocus": True}}
    design = design_from_files(json.dumps(schema), json.dumps(ui))
    assert [f["type"] for f in design["fields"]] == ["raw", "raw", "integer"]
    design["fields"].reverse()
    written, written_ui = files_from_design(_through_browser(design))
    assert written["properties"] == schema["properties"]
    assert written_ui["members"] == ui["members"] and written_ui["size"] == ui["size"]
    assert written_ui["ui:order"] == ["size", "email", "members"]


@pytest.mark.parametrize(("schema", "ui", "message"), [
    ("{", None, "不是有效的 JSON"),
    ("[]", None, "应为 JSON 对象"),
    ('{"properties": []}', None, "properties 应为对象"),
    ("{}", "[1]", "界面定义（uischema.json）应为 JSON 对象"),
])
def test_files_the_editor_cannot_open_say_why(schema: str, ui: str | None, message: str) -> None:
    with pytest.raises(FormDesignRefused, match=message):
        design_from_files(schema, ui)


def test_a_form_not_yet_in_the_draft_opens_empty() -> None:
    assert design_from_files(None, None)["fields"] == []


def test_the_id_number_pattern_is_the_one_the_editor_recognises() -> None:
    schema, _ = files_from_design(form(field(key="guardian_id", title="身份证号码", type="id_number")))
    assert schema["properties"]["guardian_id"]["pattern"] == ID_NUMBER_PATTERN
