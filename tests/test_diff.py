"""Differences between two versions of a procedure: elements, forms and guide fields."""

from __future__ import annotations

import json
import tomllib

from engine.config import ROOT
from engine.procedures.diff import Snapshot, compare, elements_of

DIBAO = ROOT / "bpmn/dibao"


def shipped() -> dict[str, str]:
    return {path.relative_to(DIBAO).as_posix(): path.read_text("utf-8") for path in DIBAO.rglob("*") if path.is_file()}


def test_the_same_procedure_has_no_differences() -> None:
    assert compare(Snapshot.of_files(shipped()), Snapshot.of_files(shipped())).empty


def test_elements_forms_and_guide_fields_that_changed_are_named() -> None:
    old = shipped()
    new = dict(old)
    xml = new["process.bpmn"]
    # A changed name and lane, a changed condition, a removed end event (its shape too), an added task.
    xml = xml.replace('name="乡镇初审"', 'name="乡镇初审（重新调查后）"', 1)
    xml = xml.replace('<bpmn:flowNodeRef>town_review</bpmn:flowNodeRef>', '', 1)
    xml = xml.replace('<bpmn:flowNodeRef>county_approval</bpmn:flowNodeRef>',
                      '<bpmn:flowNodeRef>county_approval</bpmn:flowNodeRef>'
                      '<bpmn:flowNodeRef>town_review</bpmn:flowNodeRef>', 1)
    xml = xml.replace('town_decision == "approve"', 'town_decision == "approve" and household_size > 0', 1)
    xml = xml.replace('</bpmn:process>', '<bpmn:userTask id="home_visit" name="入户核查" /></bpmn:process>', 1)
    new["process.bpmn"] = xml
    form = json.loads(new["forms/town_review.schema.json"])
    form["properties"]["visit_date"] = {"type": "string", "format": "date", "title": "入户调查日期"}
    dropped = sorted(form["properties"])[0]
    del form["properties"][dropped]
    new["forms/town_review.schema.json"] = json.dumps(form, ensure_ascii=False)
    new["item.toml"] = new["item.toml"].replace("promised_days = 30", "promised_days = 25")
    diff = compare(Snapshot.of_files(old), Snapshot.of_files(new))
    by_id = {element.element_id: element for element in diff.elements}
    assert by_id["home_visit"].status == "added" and by_id["home_visit"].name == "入户核查"
    town = by_id["town_review"]
    assert town.status == "changed"
    assert {change.aspect for change in town.changes} >= {"name", "lane"}
    assert [(c.before, c.after) for c in town.changes if c.aspect == "lane"] == \
        [("town_civil_affairs", "county_civil_affairs")]
    assert any(change.aspect == "condition" for element in diff.elements for change in element.changes)
    [form_diff] = diff.forms
    assert form_diff.file == "town_review.schema.json" and form_diff.fields_added == ["visit_date"]
    assert form_diff.fields_removed == [dropped]
    [guide] = diff.guide
    assert (guide.aspect, guide.before, guide.after) == ("promised_days", 30, 25)
    removed = compare(Snapshot.of_files(new), Snapshot.of_files(old))
    assert removed.ids("removed") == ["home_visit"]


def test_a_script_a_timer_and_properties_count_as_changes() -> None:
    xml = shipped()["process.bpmn"]
    timers = [key for key, facts in elements_of(xml).items() if "timer" in facts]
    assert timers, "the shipped 低保 waits out its 公示 on timers"
    changed = xml.replace('"P7D"', '"P10D"', 1)
    diff = compare(Snapshot(xml, {}, {}), Snapshot(changed, {}, {}))
    assert [change.aspect for element in diff.elements for change in element.changes] == ["timer"]
    guide = tomllib.loads(shipped()["item.toml"])
    assert compare(Snapshot(xml, {}, guide), Snapshot(xml, {}, guide | {"fee": "免费（不收取任何费用）"})).guide


def test_a_diagram_that_does_not_parse_has_no_elements() -> None:
    assert elements_of("<bpmn:definitions") == {}
