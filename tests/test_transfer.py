"""转办 and 委派 through the engine alone, on SQLite and PostgreSQL: a task moved for good to a county or town post
and worked there (its step deadline and cards go with it); a task handed to a colleague whose answer comes back
for sign-off, or taken back; the delegator's 委派中 list of what is still with a colleague; and every refusal, which
changes nothing."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import clock
from engine.audit import chain as audit
from engine.audit import replay
from engine.cases.locking import actor
from engine.deadlines import cards, tracking
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.models import Case, CaseEvent, Notification, OrgUnit, Task
from engine.people import access
from engine.people.accounts import set_away
from engine.services import Services
from engine.tasks import inbox
from engine.vocabulary import TaskOperation
from tests.conftest import user_id
from tests.test_engine import form, holder, open_tasks, start

REASON = "申请人户籍已迁至县城，家庭经济状况须由县民政局会同公安部门核对后出具意见"
# What every refusal must leave as it was: the task row's columns the operations write.
KEPT = ("role_code", "org_id", "assignee_id", "status", "arrival", "arrival_note", "arrival_by_id",
        "delegated_by_id", "answer")


def org(svc: Services, code: str) -> int:
    with svc.db.read() as session:
        found = session.scalar(select(OrgUnit.id).where(OrgUnit.code == code))
    assert found is not None
    return found


def county(svc: Services) -> int:
    return org(svc, "510123")


def row(svc: Services, task_id: str) -> Task:
    with svc.db.read() as session:
        found = session.get(Task, task_id)
        assert found is not None
        return found


def snapshot(svc: Services, task_id: str) -> dict[str, Any]:
    found = row(svc, task_id)
    return {key: getattr(found, key) for key in KEPT}


def events(svc: Services, case_id: int, *kinds: str) -> list[CaseEvent]:
    with svc.db.read() as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind.in_(kinds))
                                    .order_by(CaseEvent.seq)))


def town_task(svc: Services, name: str) -> tuple[Case, Task]:
    """A 低保 case whose village opinion is in: the town's 家庭经济状况调查 is open at 清水镇's civil-affairs post."""
    case = start(svc, name=name)
    [village] = open_tasks(svc, case.id)
    svc.cases.complete(holder(svc, village), village.id, form(svc, village, "approve"))
    [town] = open_tasks(svc, case.id)
    assert town.element_id == "town_investigation"
    return case, town


def listed(svc: Services, username: str, scope: str, case: Case) -> list[str]:
    """The task ids of `case` in the user's inbox tab."""
    with svc.db.read() as session:
        user = actor(session, user_id(svc, username))
        rows = inbox.tasks(session, user, scope, limit=50, narrow=inbox.Narrow(text=case.case_number))
    return [found.id for found in rows if found.case_id == case.id]


def told(svc: Services, username: str, case: Case, kind: str) -> list[Notification]:
    with svc.db.read() as session:
        return list(session.scalars(select(Notification).where(
            Notification.user_id == user_id(svc, username), Notification.case_id == case.id,
            Notification.kind == kind)))


def verified(svc: Services, case: Case) -> None:
    with svc.db.read() as session:
        assert audit.verify(session, case.id) == []


# -- 转办 ---------------------------------------------------------------------------------------


def test_transferred_to_a_county_post_which_completes_it(services: Services) -> None:
    case, town = town_task(services, "转办甲")
    clerk = user_id(services, "qingshui_civil")
    services.cases.claim(clerk, town.id)
    post = services.cases.transfer(clerk, town.id, "county_civil_affairs", county(services), REASON)
    assert post.label == "青山县 · 县民政局"
    moved = row(services, town.id)
    assert (moved.role_code, moved.org_id, moved.assignee_id) == ("county_civil_affairs", county(services), None)
    assert (moved.arrival, moved.arrival_note, moved.arrival_by_id) == ("transferred", REASON, clerk)
    # It waits in the county post's inbox, no longer in the town's; the county's holders are told why.
    assert listed(services, "county_civil", "post", case) == [town.id]
    assert listed(services, "qingshui_civil", "mine", case) == []
    assert listed(services, "qingshui_civil", "post", case) == []
    [note] = told(services, "county_civil", case, "transfer")
    assert REASON in note.body and "家庭经济状况调查" in note.title
    [event] = events(services, case.id, "task_transferred")
    assert (event.before["post"], event.after["post"], event.after["reason"]) == (
        "清水镇 · 民政办", "青山县 · 县民政局", REASON)
    # The town clerk can no longer work it; the county holder claims and completes it, and the case moves on once.
    with pytest.raises(Forbidden, match="不是该任务所属岗位"):
        services.cases.complete(clerk, town.id, form(services, moved, "approve"))
    county_clerk = user_id(services, "county_civil")
    services.cases.claim(county_clerk, town.id)
    services.cases.complete(county_clerk, town.id, form(services, moved, "approve"))
    assert [task.element_id for task in open_tasks(services, case.id)] == ["town_review"]
    assert row(services, town.id).completed_by_id == county_clerk
    # The replay routes the task to the county from the transfer on.
    with services.db.read() as session:
        history = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                       .order_by(CaseEvent.seq)))
    at = replay.moment(history, event.seq)
    assert (at.tasks[town.id].role, at.tasks[town.id].org_id) == ("county_civil_affairs", county(services))
    verified(services, case)


def to_county_approval(svc: Services, case: Case) -> Task:
    """Work the 低保 case up to the county's 审核确认 (a step with its own limit), passing the 公示 by the clock."""
    for _ in range(10):
        tasks = open_tasks(svc, case.id)
        if [task.element_id for task in tasks] == ["county_approval"]:
            return tasks[0]
        for task in tasks:
            svc.cases.complete(holder(svc, task), task.id, form(svc, task, "approve"))
        if not tasks:
            clock.travel(timedelta(days=8))
            assert svc.cases.run_due_timers() >= 1
    raise AssertionError("never reached county_approval")


def test_the_step_deadline_and_its_cards_go_with_the_task(services: Services) -> None:
    case = start(services, name="转办期限")
    step = to_county_approval(services, case)
    with services.db.read() as session:
        before = tracking.step_deadlines(session, [step.id])[step.id]
    town = org(services, "510123101000")
    services.cases.transfer(holder(services, step), step.id, "town_civil_affairs", town,
                            "申请人长期在外务工，收入核对须由乡镇民政所补充调查后办理")
    with services.db.read() as session:
        after = tracking.step_deadlines(session, [step.id])[step.id]
        [line] = [found for found in inbox.tasks(session, actor(session, user_id(services, "qingshui_civil")),
                                                  "post", limit=50, narrow=inbox.Narrow(text=case.case_number))]
    assert (after.id, after.due_date, after.status) == (before.id, before.due_date, "open")
    assert line.step_due_date == before.due_date
    # Past the step's due date its red card reaches the post that now holds it, not the one that gave it away.
    clock.set_now(datetime.combine(before.due_date, time(9), clock.SHANGHAI) + timedelta(days=3))
    cards.tick(services.cases)
    assert told(services, "qingshui_civil", case, "card")
    assert not told(services, "county_civil", case, "card")
    moved = row(services, step.id)
    clerk = user_id(services, "qingshui_civil_b")
    services.cases.complete(clerk, step.id, form(services, moved, "approve"))
    with services.db.read() as session:
        assert tracking.step_deadlines(session, [step.id])[step.id].status == "finished"
    assert [task.element_id for task in open_tasks(services, case.id)] == ["result_publication"]
    verified(services, case)


def test_refused_transfers_change_nothing(services: Services) -> None:
    case, town = town_task(services, "转办乙")
    clerk = user_id(services, "qingshui_civil")
    kept = snapshot(services, town.id)
    shiqiao = org(services, "510123102000")
    refusals: list[tuple[type[Exception], str, int, Any, Any, str]] = [
        (ValidationFailed, "请填写转办理由", clerk, "county_civil_affairs", county(services), "  "),
        # Outside the case's jurisdiction: the same post of another town.
        (ValidationFailed, "石桥镇民政办不服务本办件", clerk, "town_civil_affairs", shiqiao, REASON),
        (ValidationFailed, "无需转办", clerk, "town_civil_affairs", org(services, "510123101000"), REASON),
        (ValidationFailed, "请选择", clerk, "supervisor", county(services), REASON),
        (ValidationFailed, "请选择", clerk, "county_civil_affairs", str(county(services)), REASON),
        (ValidationFailed, "请选择", clerk, "no_such_role", county(services), REASON),
        (Forbidden, "不是该任务所属岗位", user_id(services, "dongpo_agent"), "county_civil_affairs",
         county(services), REASON),
    ]
    for error, message, who, role, place, why in refusals:
        with pytest.raises(error, match=message):
            services.cases.transfer(who, town.id, role, place, why)
    # Claimed by the A post: the B post may not transfer it from under them.
    services.cases.claim(clerk, town.id)
    kept = snapshot(services, town.id)
    with pytest.raises(Forbidden, match="您不能转办该任务"):
        services.cases.transfer(user_id(services, "qingshui_civil_b"), town.id, "county_civil_affairs",
                                county(services), REASON)
    assert snapshot(services, town.id) == kept
    # A completed task is not transferred.
    services.cases.complete(clerk, town.id, form(services, town, "approve"))
    with pytest.raises(Conflict, match="已由.*办理完毕"):
        services.cases.transfer(clerk, town.id, "county_civil_affairs", county(services), REASON)
    assert events(services, case.id, "task_transferred") == []
    verified(services, case)


def test_a_post_without_anyone_in_it_receives_nothing(services: Services) -> None:
    case, town = town_task(services, "转办无人")
    kept = snapshot(services, town.id)
    # The demo county has a 县医疗保障局 role but nobody in the post.
    with pytest.raises(ValidationFailed, match="没有在职人员"):
        services.cases.transfer(holder(services, town), town.id, "county_medical_security", county(services), REASON)
    offered = services.cases.task_receivers(holder(services, town), town.id)
    assert "county_medical_security" not in {post.role_code for post in offered.posts}
    assert snapshot(services, town.id) == kept
    assert events(services, case.id, "task_transferred") == []


def test_receivers_are_the_posts_and_colleagues_serving_the_case(services: Services) -> None:
    case, town = town_task(services, "转办对象")
    offered = services.cases.task_receivers(holder(services, town), town.id)
    labels = [post.label for post in offered.posts]
    assert "青山县 · 县民政局" in labels and "清水镇 · 分管领导" in labels and "东坡村 · 村委会" in labels
    assert "清水镇 · 民政办" not in labels  # its own post
    assert not any(label.startswith(("石桥镇", "柳林村", "河湾村")) for label in labels)
    assert not {"supervisor", "auditor", "admin"} & {post.role_code for post in offered.posts}
    names = [colleague.username for colleague in offered.colleagues]
    assert names[0] == "qingshui_civil_b"  # the same unit first
    assert {"qingshui_window", "county_civil", "dongpo_committee"} <= set(names)
    assert not {"qingshui_civil", "shiqiao_civil", "supervisor", "auditor", "admin"} & set(names)
    with pytest.raises(Forbidden):
        services.cases.task_receivers(user_id(services, "qingshui_window"), town.id)


# -- 委派 ---------------------------------------------------------------------------------------


def test_delegated_answered_and_signed_off(services: Services) -> None:
    case, town = town_task(services, "委派甲")
    clerk, window = user_id(services, "qingshui_civil"), user_id(services, "qingshui_window")
    colleague = services.cases.delegate(clerk, town.id, window, "请协助入户核实家庭收入，填写调查意见后交我审核")
    assert colleague.username == "qingshui_window"
    delegated = row(services, town.id)
    assert (delegated.assignee_id, delegated.delegated_by_id, delegated.arrival) == (window, clerk, "delegated")
    assert (delegated.role_code, delegated.org_id) == (town.role_code, town.org_id)
    # The colleague, of another post, finds it among their own tasks and may work it; nobody else may.
    assert listed(services, "qingshui_window", "mine", case) == [town.id]
    assert listed(services, "qingshui_civil", "mine", case) == []
    assert listed(services, "qingshui_civil", "post", case) == []
    assert told(services, "qingshui_window", case, "delegate")
    with services.db.read() as session:
        seen = inbox.task_row(session, town.id)
        assert access.task_access(actor(session, window), seen).standing == access.Standing.YOURS
        assert access.task_access(actor(session, clerk), seen).standing == access.Standing.DELEGATED
        assert access.may_see_task(actor(session, window), seen, seen)
    answer = form(services, delegated, "approve")
    with pytest.raises(Conflict, match="已委派给"):
        services.cases.complete(clerk, town.id, answer)
    with pytest.raises(Conflict, match="已委派给"):
        services.cases.claim(user_id(services, "qingshui_civil_b"), town.id)
    # A wrong answer is refused as a completion would be, and changes nothing.
    kept = snapshot(services, town.id)
    with pytest.raises(ValidationFailed):
        services.cases.complete(window, town.id, {})
    assert snapshot(services, town.id) == kept
    # The colleague's answer goes back to the clerk; the workflow has not moved.
    services.cases.complete(window, town.id, answer)
    back = row(services, town.id)
    assert (back.status, back.assignee_id, back.delegated_by_id, back.arrival, back.arrival_by_id) == (
        "open", clerk, None, "delegate_answered", window)
    assert back.answer == answer
    assert [task.id for task in open_tasks(services, case.id)] == [town.id]
    assert events(services, case.id, "task_completed")[-1].task_id != town.id
    assert listed(services, "qingshui_civil", "mine", case) == [town.id]
    assert listed(services, "qingshui_window", "mine", case) == []
    assert told(services, "qingshui_civil", case, "delegate")
    [answered] = events(services, case.id, "delegate_answered")
    with services.db.read() as session:
        names = actor(session, window).display_name, actor(session, clerk).display_name
    assert (answered.actor_id, answered.before["assignee"], answered.after["assignee"]) == (window, *names)
    assert {key: answered.after[key] for key in answer} == answer
    # The clerk signs off with the colleague's answer; the case moves on once.
    services.cases.complete(clerk, town.id, back.answer)
    assert [task.element_id for task in open_tasks(services, case.id)] == ["town_review"]
    assert row(services, town.id).completed_by_id == clerk
    assert [event.kind for event in events(services, case.id, "task_delegated", "delegate_answered",
                                           "task_completed") if event.task_id == town.id] == [
        "task_delegated", "delegate_answered", "task_completed"]
    verified(services, case)


def test_the_delegate_only_answers(services: Services) -> None:
    case, town = town_task(services, "委派乙")
    clerk, deputy = user_id(services, "qingshui_civil"), user_id(services, "qingshui_civil_b")
    services.cases.delegate(clerk, town.id, deputy, "请代为核对银行流水")
    kept = snapshot(services, town.id)
    with pytest.raises(Forbidden, match="受委派的任务"):
        services.cases.transfer(deputy, town.id, "county_civil_affairs", county(services), REASON)
    with pytest.raises(Forbidden, match="受委派的任务"):
        services.cases.delegate(deputy, town.id, user_id(services, "qingshui_window"), "再转给窗口")
    with pytest.raises(Forbidden, match="您不能退回该任务"):
        services.cases.send_back_targets(deputy, town.id)
    with pytest.raises(Conflict, match="不能释放"):
        services.cases.release(deputy, town.id)
    # Nor add a signer (加签): the one rule says so for every operation but 抄送.
    with services.db.read() as session:
        seen, found = inbox.task_row(session, town.id), actor(session, deputy)
        assert [operation for operation in TaskOperation if access.may_operate(found, operation, seen, seen)] == [
            TaskOperation.COPY]
    # Nor may the clerk, while it is with the colleague.
    with pytest.raises(Forbidden, match="您不能转办该任务"):
        services.cases.transfer(clerk, town.id, "county_civil_affairs", county(services), REASON)
    assert snapshot(services, town.id) == kept
    assert events(services, case.id, "task_transferred") == []


def test_recalled_before_the_colleague_answers(services: Services) -> None:
    case, town = town_task(services, "委派丙")
    clerk, window = user_id(services, "qingshui_civil"), user_id(services, "qingshui_window")
    services.cases.delegate(clerk, town.id, window, "请协助入户调查")
    kept = snapshot(services, town.id)
    with pytest.raises(Forbidden, match="只有委派人"):
        services.cases.recall_delegation(user_id(services, "qingshui_civil_b"), town.id)
    assert snapshot(services, town.id) == kept
    services.cases.recall_delegation(clerk, town.id)
    back = row(services, town.id)
    assert (back.assignee_id, back.delegated_by_id, back.arrival) == (clerk, None, None)
    assert listed(services, "qingshui_window", "mine", case) == []
    with pytest.raises(Forbidden, match="不是该任务所属岗位"):
        services.cases.complete(window, town.id, form(services, back, "approve"))
    with pytest.raises(Conflict, match="不在委派中"):
        services.cases.recall_delegation(clerk, town.id)
    delegated, recalled = events(services, case.id, "task_delegated")
    assert delegated.after["reason"] == "请协助入户调查" and recalled.after["recalled"] is True
    assert told(services, "qingshui_window", case, "delegate")
    services.cases.complete(clerk, town.id, form(services, back, "approve"))
    assert [task.element_id for task in open_tasks(services, case.id)] == ["town_review"]
    verified(services, case)


def test_refused_delegations_change_nothing(services: Services) -> None:
    case, town = town_task(services, "委派丁")
    clerk = user_id(services, "qingshui_civil")
    kept = snapshot(services, town.id)
    refusals: list[tuple[type[Exception], str, int, Any, str]] = [
        (ValidationFailed, "请填写委派理由", clerk, user_id(services, "qingshui_window"), ""),
        (ValidationFailed, "不能委派给自己", clerk, clerk, "自己办"),
        (ValidationFailed, "不服务本办件", clerk, user_id(services, "shiqiao_civil"), "请石桥镇协助"),
        (ValidationFailed, "不办理任务", clerk, user_id(services, "supervisor"), "请监察协助"),
        (ValidationFailed, "请选择", clerk, "qingshui_window", "用户名不是编号"),
        (ValidationFailed, "请选择", clerk, 987654321, "没有这个人"),
        (Forbidden, "不是该任务所属岗位", user_id(services, "qingshui_window"), clerk, "窗口委派"),
    ]
    for error, message, who, colleague, why in refusals:
        with pytest.raises(error, match=message):
            services.cases.delegate(who, town.id, colleague, why)
    with services.db.write() as session:
        set_away(session, "qingshui_civil_b", True)
    try:
        with pytest.raises(ValidationFailed, match="目前不在岗"):
            services.cases.delegate(clerk, town.id, user_id(services, "qingshui_civil_b"), "请协助")
    finally:
        with services.db.write() as session:
            set_away(session, "qingshui_civil_b", False)
    assert snapshot(services, town.id) == kept
    assert events(services, case.id, "task_delegated") == []


def delegated(svc: Services, username: str, **options: Any) -> list[Any]:
    """The user's 委派中 lines, all of them (other tests' delegations included)."""
    with svc.db.read() as session:
        return list(inbox.tasks(session, actor(session, user_id(svc, username)), "delegated", limit=500, **options))


def delegated_count(svc: Services, username: str) -> int:
    with svc.db.read() as session:
        return inbox.count(session, actor(session, user_id(svc, username)), "delegated")


def test_the_delegator_lists_what_is_still_with_a_colleague(services: Services) -> None:
    first_case, first = town_task(services, "闻人秀芝")
    second_case, second = town_task(services, "闻人德全")
    clerk, window, deputy = (user_id(services, name) for name in ("qingshui_civil", "qingshui_window",
                                                                   "qingshui_civil_b"))
    ours = {first.id, second.id}
    before = delegated_count(services, "qingshui_civil")
    services.cases.delegate(clerk, first.id, window, "请协助入户核实家庭收入")
    clock.travel(timedelta(hours=2))
    services.cases.delegate(clerk, second.id, deputy, "请代为核对银行流水")
    # Listed for the delegator, oldest delegation first when sorted by it, with what an inbox line shows.
    lines = [line for line in delegated(services, "qingshui_civil", sort="arrived") if line.id in ours]
    assert [line.id for line in lines] == [first.id, second.id]
    newest_first = delegated(services, "qingshui_civil", sort="arrived", descending=True)
    assert [line.id for line in newest_first if line.id in ours] == [second.id, first.id]
    with services.db.read() as session:
        names = {user: actor(session, user).display_name for user in (window, deputy)}
    line = lines[0]
    assert (line.case_number, line.item_name, line.name, line.assignee_id, line.assignee_name) == (
        first_case.case_number, "农村居民最低生活保障", "家庭经济状况调查", window, names[window])
    # When each was handed on: the time of its 委派 event.
    assert [found.delegated_at for found in lines] == [
        events(services, case.id, "task_delegated")[-1].at for case in (first_case, second_case)]
    assert lines[1].delegated_at - line.delegated_at >= timedelta(hours=2)
    assert line.promised_date == first_case.promised_date and line.card == "" and line.arrival == "delegated"
    assert line.arrival_note == "请协助入户核实家庭收入"
    assert delegated_count(services, "qingshui_civil") == before + 2 == len(delegated(services, "qingshui_civil"))
    # Narrowed as the inbox is; nobody else's list holds them, and the colleague has them among their own tasks.
    assert listed(services, "qingshui_civil", "delegated", second_case) == [second.id]
    assert ours.isdisjoint(line.id for line in delegated(services, "qingshui_window"))
    assert ours.isdisjoint(line.id for line in delegated(services, "qingshui_civil_b"))
    assert listed(services, "qingshui_window", "mine", first_case) == [first.id]
    # Answered back: it leaves the list (it is the clerk's own task again); taken back: it leaves it too.
    services.cases.complete(window, first.id, form(services, first, "approve"))
    services.cases.recall_delegation(clerk, second.id)
    assert ours.isdisjoint(line.id for line in delegated(services, "qingshui_civil"))
    assert delegated_count(services, "qingshui_civil") == before
    assert listed(services, "qingshui_civil", "mine", first_case) == [first.id]
    # Delegated again later: listed once, at the new time.
    clock.travel(timedelta(days=1))
    services.cases.delegate(clerk, second.id, window, "请协助入户调查")
    again = [line for line in delegated(services, "qingshui_civil") if line.id in ours]
    assert [(line.id, line.delegated_at, line.assignee_id) for line in again] == [
        (second.id, events(services, second_case.id, "task_delegated")[-1].at, window)]
    assert again[0].delegated_at - lines[1].delegated_at >= timedelta(days=1)
    # Once the clerk completes the case's step it is no longer open, so never listed however it ended.
    services.cases.recall_delegation(clerk, second.id)
    services.cases.complete(clerk, second.id, form(services, second, "approve"))
    assert second.id not in {line.id for line in delegated(services, "qingshui_civil")}
