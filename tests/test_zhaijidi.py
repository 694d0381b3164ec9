"""宅基地 (ZR-ZHAIJIDI) after 土地管理法 §62 (2019) and 农经发〔2019〕6号: the village reviews and posts, the town
window accepts, 农业农村, 自然资源 and planning review side by side, the town approves (the county only for a
farmland conversion), then 放线 and 竣工验收 outside the promised date; both databases."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import clock
from engine.audit import chain as audit
from engine.cases.outcomes import Outcome, Window
from engine.deadlines import calendar, cards
from engine.errors import ValidationFailed
from engine.models import OrgUnit, User
from engine.procedures.deploy import current_version
from engine.services import Services
from tests.conftest import user_id
from tests.procedures import applicant
from tests.test_api import auth, form_data, make_client, post_task_for
from tests.test_api import complete as api_complete
from tests.test_clock import case_clock, events, pauses, reload, timer_status
from tests.test_engine import DONGPO, form, holder, open_tasks
from tests.test_intake import documents, reread

ITEM = "ZR-ZHAIJIDI"
AGENT = "dongpo_agent"
REVIEWS = ["agriculture_review", "land_survey", "planning_review"]
APPLICATION = {"household_size": 4, "land_area_sqm": 120.0,
               "location": "东坡村三组，东至村道，南至王家大沟，西至李德明宅，北至集体林地", "is_basic_farmland": False,
               "original_homestead": "无", "reason": "儿子成家分户，现住房为父母所有，无宅基地"}


def register(svc: Services, window: Window | None = None, **data: Any) -> Any:
    return svc.cases.start_case(user_id(svc, AGENT), ITEM, DONGPO, applicant(DONGPO), APPLICATION | data,
                                window).case


def do(svc: Services, case_id: int, element_id: str, **answers: Any) -> None:
    """Complete the case's open task `element_id` as its post's A holder: an approving form with `answers` over it."""
    [task] = [task for task in open_tasks(svc, case_id) if task.element_id == element_id]
    svc.cases.complete(holder(svc, task), task.id, form(svc, task, "approve") | answers)


def to_reviews(svc: Services, case_id: int, **village: Any) -> None:
    """村级审查, the seven days' 公示, then 受理 at the town window."""
    do(svc, case_id, "village_review", **village)
    clock.travel(timedelta(days=8))
    assert svc.cases.run_due_timers() >= 1
    do(svc, case_id, "intake")


def review(svc: Services, case_id: int, answers: dict[str, dict[str, Any]] | None = None,
           order: list[str] = REVIEWS) -> None:
    answers = answers or {}
    for element_id in order:
        do(svc, case_id, element_id, **answers.get(element_id, {}))


def open_steps(svc: Services, case_id: int) -> list[str]:
    return [task.element_id for task in open_tasks(svc, case_id)]


def post_of(svc: Services, case_id: int, element_id: str) -> tuple[str, str]:
    [task] = [task for task in open_tasks(svc, case_id) if task.element_id == element_id]
    with svc.db.read() as session:
        return task.role_code, session.get(OrgUnit, task.org_id).name


def decision(svc: Services, case_id: int, kind: str) -> Any:
    [found] = [d for d in documents(svc, case_id) if d.kind == kind]
    return found


def test_approved_by_the_town_and_followed_to_the_final_inspection(services: Services) -> None:
    case = register(services)
    assert post_of(services, case.id, "village_review") == ("village_committee", "东坡村")
    do(services, case.id, "village_review")
    # 村级公示: seven calendar days (item.toml [timers], 云农经〔2020〕5号 as no national or Sichuan rule gives one).
    clock.travel(timedelta(days=6))
    assert services.cases.run_due_timers() == 0 and open_steps(services, case.id) == []
    clock.travel(timedelta(days=2))
    assert services.cases.run_due_timers() >= 1
    assert timer_status(services, case.id, "Timer_village_publicity") == "fired"
    assert reload(services, case.id).promised_date is None  # nothing counts before the town window's 受理
    do(services, case.id, "intake")
    accepted = reload(services, case.id)
    with services.db.read() as session:
        work_calendar = calendar.load(session)
    # 行政许可法 §42: twenty working days from 受理 (Tuesday 10 March 2026), not the seed's thirty.
    assert accepted.promised_date == work_calendar.add_working_days(date(2026, 3, 10), 20) == date(2026, 4, 8)
    assert [post_of(services, case.id, step) for step in REVIEWS] == [
        ("town_agriculture", "清水镇"), ("town_land", "清水镇"), ("town_planning", "清水镇")]
    review(services, case.id)
    assert post_of(services, case.id, "town_review") == ("town_leader", "清水镇")
    do(services, case.id, "town_review", approved_area_sqm=110.0)
    do(services, case.id, "issue_licences", homestead_certificate_no="清水宅批〔2026〕12号",
       planning_permit_no="乡字第510123202600012号")
    # The licence is granted: the approval decision exists now, while 放线 and 竣工验收 are still to come.
    running = reload(services, case.id)
    assert running.status == "running" and open_steps(services, case.id) == ["setting_out"]
    approval = decision(services, case.id, "approval_decision")
    assert approval.title == "准予许可决定书" and approval.issuer == "清水镇人民政府"
    # Building takes months: the steps after the licence hold the case clock, so no card falls due meanwhile.
    do(services, case.id, "setting_out")
    clock.travel(timedelta(days=150))
    cards.tick(services.cases)
    assert case_clock(services, case.id).card == "" and case_clock(services, case.id).next_check_at is None
    assert [row.reason for row in pauses(services, case.id)] == ["现场勘察", "现场勘察"]
    do(services, case.id, "completion_inspection")
    final = reload(services, case.id)
    assert (final.status, final.result) == ("completed", "approved")
    assert case_clock(services, case.id).late is False
    # One decision only: the end of the case does not issue a second.
    assert [d.kind for d in documents(services, case.id)] == ["approval_decision"]
    with services.db.read() as session:
        assert audit.verify(session, case.id) == []


def test_the_village_may_disagree_but_cannot_end_the_case(services: Services) -> None:
    case = register(services)
    to_reviews(services, case.id, village_decision="reject", village_opinion="拟用地与相邻户有边界争议，不同意")
    # 实施条例 §34: the village discusses and posts, the town decides; its 不同意 goes on to the town with reasons.
    assert reload(services, case.id).status == "running" and open_steps(services, case.id) == REVIEWS
    [village] = [event for event in events(services, case.id, "task_completed") if event.step == "村级审查"]
    assert village.after["village_opinion"] == "拟用地与相邻户有边界争议，不同意"
    assert documents(services, case.id) == []


def test_farmland_goes_to_the_county_for_conversion_before_the_town_approves(services: Services) -> None:
    case = register(services)
    to_reviews(services, case.id)
    review(services, case.id, {"land_survey": {"involves_farmland": "yes"}})
    assert open_steps(services, case.id) == ["farmland_conversion"]
    assert post_of(services, case.id, "farmland_conversion") == ("county_natural_resources", "青山县")
    do(services, case.id, "farmland_conversion")
    assert open_steps(services, case.id) == ["town_review"]
    for step in ("town_review", "issue_licences", "setting_out", "completion_inspection"):
        do(services, case.id, step)
    final = reload(services, case.id)
    assert (final.status, final.result) == ("completed", "approved")
    assert decision(services, case.id, "approval_decision").issuer == "清水镇人民政府"


def test_the_county_refusing_the_conversion_ends_in_a_written_refusal(services: Services) -> None:
    case = register(services)
    to_reviews(services, case.id)
    review(services, case.id, {"land_survey": {"involves_farmland": "yes"}})
    do(services, case.id, "farmland_conversion", county_decision="reject",
       county_opinion="拟用地为水田，本年度农用地转用计划指标已用完，不予转用")
    final = reload(services, case.id)
    assert (final.status, final.result) == ("completed", "rejected")
    refusal = decision(services, case.id, "refusal_decision")
    assert refusal.title == "不予许可决定书" and refusal.issuer == "青山县自然资源局"
    assert "计划指标已用完" in refusal.facts["reasons"]
    assert refusal.facts["rights"]["review_days"] == 60 and refusal.facts["rights"]["litigation_months"] == 6


def test_a_survey_not_done_and_a_review_asking_for_more_go_back_for_correction_then_all_review_again(
        services: Services) -> None:
    case = register(services)
    to_reviews(services, case.id)
    review(services, case.id, {
        "land_survey": {"survey_result": "not_done", "survey_attendance": "申请人外出务工未到场，四至无法指认"},
        "planning_review": {"planning_decision": "supplement", "planning_opinion": "请补充住房层数和高度"}})
    # Back to the applicant through the village agent: their time, not counted against the promised date.
    assert post_of(services, case.id, "correction") == ("village_agent", "东坡村")
    promised = reload(services, case.id).promised_date
    clock.travel(timedelta(days=7))
    do(services, case.id, "correction", correction_note="申请人已返乡，约定3月25日到场；补充两层、高度7米")
    assert [(row.reason, row.working_days) for row in pauses(services, case.id)] == [("补正", 5)]
    assert reload(services, case.id).promised_date > promised
    assert open_steps(services, case.id) == REVIEWS
    # Each department answers anew; the join must not keep the first round's answers, in whatever order they come.
    review(services, case.id, order=list(reversed(REVIEWS)))
    assert open_steps(services, case.id) == ["town_review"]


def test_an_answer_from_the_first_round_does_not_decide_the_second(services: Services) -> None:
    case = register(services)
    to_reviews(services, case.id)
    review(services, case.id, {"agriculture_review": {"agriculture_decision": "supplement"}})
    do(services, case.id, "correction")
    # Second round: agriculture now finds fault, the others are satisfied — the case is refused, not sent round again.
    review(services, case.id, {"agriculture_review": {"agriculture_decision": "reject",
                                                      "agriculture_opinion": "申请人已有一处宅基地，不符合一户一宅"}},
           order=["agriculture_review", "planning_review", "land_survey"])
    assert open_steps(services, case.id) == ["town_refuse"]


def test_a_review_that_finds_fault_leads_to_the_towns_written_refusal(services: Services) -> None:
    case = register(services)
    to_reviews(services, case.id)
    review(services, case.id, {"agriculture_review": {"agriculture_decision": "reject",
                                                      "agriculture_opinion": "申请人已有一处宅基地"}})
    assert post_of(services, case.id, "town_refuse") == ("town_leader", "清水镇")
    do(services, case.id, "town_refuse",
       refusal_reasons="申请人已有一处宅基地，依《土地管理法》第六十二条一户只能拥有一处宅基地")
    final = reload(services, case.id)
    assert (final.status, final.result) == ("completed", "rejected")
    refusal = decision(services, case.id, "refusal_decision")
    assert refusal.issuer == "清水镇人民政府" and "一户只能拥有一处宅基地" in refusal.facts["reasons"]
    assert refusal.facts["rights"]["review_body"] == "青山县人民政府"


def test_the_town_may_refuse_at_its_approval(services: Services) -> None:
    case = register(services)
    to_reviews(services, case.id)
    review(services, case.id)
    do(services, case.id, "town_review", town_decision="reject",
       town_opinion="拟建位置在地质灾害隐患点范围内，不予批准")
    final = reload(services, case.id)
    assert (final.status, final.result) == ("completed", "rejected")
    refusal = decision(services, case.id, "refusal_decision")
    assert "地质灾害" in refusal.facts["reasons"] and refusal.facts["rights"]["court"] == "青山县人民法院"
    assert [d.kind for d in documents(services, case.id)] == ["refusal_decision"]


def ticks(svc: Services, *missing: str) -> list[dict[str, Any]]:
    with svc.db.read() as session:
        listed = current_version(session, ITEM).guide["materials"]
    return [{"name": m["name"], "received": m["name"] not in missing, "copies": m["copies"], "original": False}
            for m in listed]


def test_missing_materials_are_told_once_then_the_case_is_accepted(services: Services) -> None:
    household = "户籍证明（户口簿）"
    case = register(services, Window(ticks(services, household), Outcome.SUPPLEMENT))
    case, row, _, tasks = reread(services, case.id)
    assert case.status == "supplement" and not tasks
    assert row.notice_missing == [{"name": household, "note": ""}]
    assert [d.kind for d in documents(services, case.id)] == ["supplement_notice"]
    services.cases.examine(user_id(services, AGENT), case.id, Window(ticks(services)))
    assert reload(services, case.id).status == "running" and open_steps(services, case.id) == ["village_review"]
    assert [d.kind for d in documents(services, case.id)] == ["supplement_notice", "receipt"]


def test_the_town_window_may_refuse_to_accept_with_a_written_notice(services: Services) -> None:
    case = register(services)
    do(services, case.id, "village_review")
    clock.travel(timedelta(days=8))
    services.cases.run_due_timers()
    do(services, case.id, "intake", intake_decision="reject", intake_reject_reason="申请人非本集体经济组织成员")
    final = reload(services, case.id)
    assert (final.status, final.result) == ("completed", "rejected")
    assert [d.kind for d in documents(services, case.id)] == ["intake_refusal"]


@pytest.mark.parametrize("persons,area,allowed", [(2, 90.0, True), (2, 95.0, False), (4, 120.0, True),
                                                  (4, 121.0, False), (7, 150.0, True)])
def test_the_area_is_held_to_the_sichuan_standard_for_the_household(services: Services, persons: int, area: float,
                                                                    allowed: bool) -> None:
    # 四川 实施办法 §52: 30 m² a person at most, a household counted as 3 to 5 people.
    if allowed:
        assert register(services, household_size=persons, land_area_sqm=area).status == "running"
        return
    with pytest.raises(ValidationFailed) as refused:
        register(services, household_size=persons, land_area_sqm=area)
    [message] = refused.value.details
    assert f"（{area:g}）超过标准" in message and f"按 {min(max(persons, 3), 5)} 人计算" in message
    assert "第五十二条" in message


def test_the_approved_area_is_held_to_the_standard_too(services: Services) -> None:
    case = register(services, household_size=2, land_area_sqm=90.0)
    to_reviews(services, case.id)
    review(services, case.id)
    [task] = [task for task in open_tasks(services, case.id) if task.element_id == "town_review"]
    with pytest.raises(ValidationFailed) as refused:
        services.cases.complete(holder(services, task), task.id, form(services, task, "approve") | {
            "approved_area_sqm": 100})
    above, standard = refused.value.details
    assert "不能大于“申请用地面积(平方米)”（90）" in above
    assert "按 3 人计算" in standard and "合计不超过 90 平方米" in standard


def test_a_whole_case_through_the_api(services: Services) -> None:
    client: FlaskClient = make_client(services)
    started = client.post("/api/v1/cases", headers=auth(services, AGENT), json={
        "item_code": ITEM, "village_code": DONGPO, "applicant": applicant(DONGPO), "data": APPLICATION})
    assert started.status_code == 201, started.json
    case_id = started.json["id"]
    assert [t["step"] for t in started.json["tasks"]] == ["村级审查"]

    def work(username: str) -> Any:
        task = post_task_for(client, services, username, case_id)
        done = api_complete(client, services, username, task["id"], form_data(client, services, username, task["id"]))
        assert done.status_code == 200, done.json
        return done.json

    work("dongpo_committee")
    clock.travel(timedelta(days=8))
    assert services.cases.run_due_timers() >= 1
    work("qingshui_window")
    for username in ("qingshui_agriculture", "qingshui_land", "qingshui_planning", "qingshui_leader",
                     "qingshui_window", "qingshui_land"):
        work(username)
    last = work("qingshui_agriculture")
    assert (last["status"], last["result"]) == ("completed", "approved")
    with services.db.read() as session:
        assert session.scalar(select(User.id).where(User.username == "qingshui_agriculture")) is not None
        assert current_version(session, ITEM).guide["statutory_days"] == 20
