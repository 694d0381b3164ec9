"""退回 and 撤回 through the engine alone, on SQLite and PostgreSQL: back along the path and across 联办's parallel
reviews, with the reason and the earlier answers for the new holder; 400 rounds at the same size and speed."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
from sqlalchemy import select

from engine.audit import chain as audit
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.models import Case, CaseEvent, Task
from engine.services import Services
from tests.conftest import user_id
from tests.test_engine import form, holder, open_tasks, start
from tests.test_zhaijidi import REVIEWS, do, open_steps, register, review, to_reviews


def task_of(svc: Services, case_id: int, element_id: str) -> Task:
    [task] = [task for task in open_tasks(svc, case_id) if task.element_id == element_id]
    return task


def row(svc: Services, task_id: str) -> Task:
    with svc.db.read() as session:
        found = session.get(Task, task_id)
        assert found is not None
        return found


def events(svc: Services, case_id: int, kind: str) -> list[CaseEvent]:
    with svc.db.read() as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
                                    .order_by(CaseEvent.seq)))


def targets(svc: Services, task: Task) -> dict[str, str]:
    """The steps `task`'s holder is offered, by name, to their ids."""
    return {step.name: step.task_id for step in svc.cases.send_back_targets(holder(svc, task), task.id)}


def send_back(svc: Services, task: Task, to: str, reason: str = "材料不全，请补充后重新审查") -> Any:
    return svc.cases.send_back(holder(svc, task), task.id, targets(svc, task)[to], reason)


def test_sent_back_to_the_village_which_sees_why_and_its_earlier_answer(services: Services) -> None:
    case = start(services, name="退回甲")
    village = task_of(services, case.id, "village_review")
    answer = form(services, village, "approve") | {"village_opinion": "经民主评议，该户家庭困难属实"}
    committee = holder(services, village)
    services.cases.complete(committee, village.id, answer)
    town = task_of(services, case.id, "town_investigation")
    assert list(targets(services, town)) == ["村委会协助并提出意见"]
    send_back(services, town, "村委会协助并提出意见", "民主评议记录缺少参会人员签字，请补齐后重新出具意见")
    [again] = open_tasks(services, case.id)
    assert again.element_id == "village_review" and again.id != village.id
    # Back with the one who answered it, with why and what they answered before.
    assert again.assignee_id == committee and again.arrival == "sent_back"
    assert again.arrival_note == "民主评议记录缺少参会人员签字，请补齐后重新出具意见"
    assert again.arrival_by_id == holder(services, town)
    assert again.answer["village_opinion"] == "经民主评议，该户家庭困难属实"
    # Nothing is lost: the first round's rows stay as they were, the town's task is cancelled, not completed.
    assert row(services, village.id).status == "completed" and row(services, town.id).status == "cancelled"
    [sent] = events(services, case.id, "task_sent_back")
    assert (sent.step, sent.after["to_step"]) == ("家庭经济状况调查", "村委会协助并提出意见")
    with services.db.read() as session:
        assert audit.verify(session, case.id) == []
    services.cases.complete(committee, again.id, answer)
    assert [task.element_id for task in open_tasks(services, case.id)] == ["town_investigation"]


def test_refusals_change_nothing(services: Services) -> None:
    case = start(services, name="退回乙")
    village = task_of(services, case.id, "village_review")
    services.cases.complete(holder(services, village), village.id, form(services, village, "approve"))
    town = task_of(services, case.id, "town_investigation")
    target = targets(services, town)["村委会协助并提出意见"]
    with pytest.raises(ValidationFailed, match="请填写退回理由"):
        services.cases.send_back(holder(services, town), town.id, target, "  ")
    with pytest.raises(Conflict, match="只能退回到"):
        services.cases.send_back(holder(services, town), town.id, town.id, "理由")
    with pytest.raises(Forbidden, match="不是该任务所属岗位"):
        services.cases.send_back(user_id(services, "dongpo_agent"), town.id, target, "理由")
    # Claimed by the A post: the B post may not send it back from under them.
    services.cases.claim(holder(services, town), town.id)
    with pytest.raises(Forbidden, match="您不能退回该任务"):
        services.cases.send_back(user_id(services, "qingshui_civil_b"), town.id, target, "理由")
    assert [task.id for task in open_tasks(services, case.id)] == [town.id]
    assert events(services, case.id, "task_sent_back") == []


def test_one_of_the_parallel_reviews_is_sent_back_from_the_towns_decision(services: Services) -> None:
    case = register(services)
    to_reviews(services, case.id)
    review(services, case.id)
    leader = task_of(services, case.id, "town_review")
    offered = targets(services, leader)
    # 受理 started the clock and its notice is with the applicant: the case is not sent back before it.
    assert set(offered) == {"农业农村审查", "现场勘察及用地审查", "规划审查",
                            "并行办理的各环节全部重办（农业农村审查、现场勘察及用地审查、规划审查）"}
    send_back(services, leader, "规划审查", "规划审查意见未注明是否符合村庄规划")
    # Only that branch is done again; the other two reviews keep their answers and the join waits for it.
    assert open_steps(services, case.id) == ["planning_review"]
    do(services, case.id, "planning_review")
    assert open_steps(services, case.id) == ["town_review"]
    # And from the same decision, the whole 联办 again.
    leader = task_of(services, case.id, "town_review")
    whole = next(name for name in targets(services, leader) if name.startswith("并行办理的各环节全部重办"))
    send_back(services, leader, whole, "用地位置变更，三个部门须重新审查")
    assert open_steps(services, case.id) == sorted(REVIEWS)
    review(services, case.id)
    assert open_steps(services, case.id) == ["town_review"]
    with services.db.read() as session:
        assert audit.verify(session, case.id) == []


def test_a_review_still_running_beside_another_is_not_behind_it(services: Services) -> None:
    case = register(services)
    to_reviews(services, case.id)
    review(services, case.id, order=["agriculture_review", "planning_review"])
    survey = task_of(services, case.id, "land_survey")
    # The other two reviews ran beside the survey, not before it: they come back only with the whole 联办.
    assert list(targets(services, survey)) == ["并行办理的各环节全部重办（农业农村审查、现场勘察及用地审查、规划审查）"]
    send_back(services, survey, "并行办理的各环节全部重办（农业农村审查、现场勘察及用地审查、规划审查）",
              "申请表的用地位置与现场不符，三个部门须按更正后的位置重新审查")
    assert open_steps(services, case.id) == sorted(REVIEWS)


def test_no_send_back_past_a_decision_already_issued(services: Services) -> None:
    case = register(services)
    to_reviews(services, case.id)
    review(services, case.id)
    do(services, case.id, "town_review", approved_area_sqm=110.0)
    # Before the licences are issued the town's decision may still be sent back to.
    assert "乡镇人民政府审批" in targets(services, task_of(services, case.id, "issue_licences"))
    do(services, case.id, "issue_licences", homestead_certificate_no="清水宅批〔2026〕31号",
       planning_permit_no="乡字第510123202600031号")
    setting_out = task_of(services, case.id, "setting_out")
    # The 准予许可决定书 went out with the licences: nothing before it may be done again by 退回.
    assert targets(services, setting_out) == {}
    with pytest.raises(Conflict, match="只能退回到"):
        services.cases.send_back(holder(services, setting_out), setting_out.id,
                                 step_id(services, case.id, "issue_licences"), "许可证号填错")
    assert open_steps(services, case.id) == ["setting_out"]


def step_id(svc: Services, case_id: int, element_id: str) -> str:
    with svc.db.read() as session:
        return session.scalars(select(Task.id).where(Task.case_id == case_id, Task.element_id == element_id)).one()


def test_withdrawn_while_the_next_step_is_untouched(services: Services) -> None:
    case = start(services, name="撤回甲")
    village = task_of(services, case.id, "village_review")
    committee = holder(services, village)
    answer = form(services, village, "approve") | {"village_opinion": "同意推荐"}
    services.cases.complete(committee, village.id, answer)
    town = task_of(services, case.id, "town_investigation")
    with pytest.raises(Forbidden, match="不是该任务所属岗位"):
        services.cases.withdraw(holder(services, town), village.id, "填错了")
    services.cases.withdraw(committee, village.id, "意见填错，应注明民主评议参会人数")
    [again] = open_tasks(services, case.id)
    assert (again.element_id, again.assignee_id, again.arrival) == ("village_review", committee, "withdrawn")
    assert again.answer["village_opinion"] == "同意推荐"
    assert row(services, town.id).status == "cancelled"
    assert [event.after["reason"] for event in events(services, case.id, "task_withdrawn")] == [
        "意见填错，应注明民主评议参会人数"]


def test_withdraw_is_refused_once_the_next_step_acted(services: Services) -> None:
    case = start(services, name="撤回乙")
    village = task_of(services, case.id, "village_review")
    committee = holder(services, village)
    services.cases.complete(committee, village.id, form(services, village, "approve"))
    town = task_of(services, case.id, "town_investigation")
    services.cases.claim(holder(services, town), town.id)
    with pytest.raises(Conflict, match="“家庭经济状况调查”已由.*认领，不能撤回"):
        services.cases.withdraw(committee, village.id, "填错了")
    services.cases.complete(holder(services, town), town.id, form(services, row(services, town.id), "approve"))
    with pytest.raises(Conflict, match="已由.*办理，不能撤回"):
        services.cases.withdraw(committee, village.id, "填错了")
    assert events(services, case.id, "task_withdrawn") == []


def test_sent_back_four_hundred_times_at_the_same_size_and_speed(services: Services) -> None:
    case = start(services, name="退回四百次")
    committee = holder(services, task_of(services, case.id, "village_review"))
    town_holder = None
    sizes: list[int] = []
    timings: list[float] = []
    for _ in range(400):
        village = task_of(services, case.id, "village_review")
        answer = form(services, village, "approve")
        began = time.perf_counter()
        services.cases.complete(committee, village.id, answer)
        timings.append(time.perf_counter() - began)
        town = task_of(services, case.id, "town_investigation")
        town_holder = town_holder or holder(services, town)
        target = next(step.task_id for step in services.cases.send_back_targets(town_holder, town.id))
        services.cases.send_back(town_holder, town.id, target, "请补充民主评议记录")
        with services.db.read() as session:
            sizes.append(len(session.scalar(select(Case.workflow_state).where(Case.id == case.id))))
    # Still waiting at the right step, with the right holder.
    [waiting] = open_tasks(services, case.id)
    assert (waiting.element_id, waiting.assignee_id) == ("village_review", committee)
    first, last = statistics.median(timings[:5]), statistics.median(timings[-5:])
    print(f"\n[{services.db.engine.dialect.name}] workflow state after send-back 1: {sizes[0]} bytes, "
          f"after 400: {sizes[-1]} bytes; completion 1–5: {first * 1000:.1f} ms, 396–400: {last * 1000:.1f} ms")
    # The stored state does not grow with rounds (a few bytes move with the ids and times in it), and the last
    # completions take no longer than the first.
    assert max(sizes) - min(sizes) < 100 and max(sizes) < 32_000
    assert last < first * 2 + 0.010
    with services.db.read() as session:
        assert audit.verify(session, case.id) == []


def test_acceptance_is_not_withdrawn(services: Services) -> None:
    case = register(services)
    to_reviews(services, case.id)
    intake = step_id(services, case.id, "intake")
    window = row(services, intake).completed_by_id
    with pytest.raises(Conflict, match="受理已生效"):
        services.cases.withdraw(window, intake, "受理时漏看了材料")
    assert open_steps(services, case.id) == sorted(REVIEWS)
