"""会签, 或签, a 2-of-3 sign-off and 加签 through the engine alone, on SQLite and PostgreSQL: who signs in which inbox,
the workflow moving exactly once when the outcome is decided, late signers' rows cancelled, refusals that change
nothing, the history, the replay and the chain; and the diagram properties deploying refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import setup
from engine.audit import chain as audit
from engine.audit import history
from engine.audit.replay import moment
from engine.cases import locking
from engine.config import Settings
from engine.errors import Conflict, DeployRefused, Forbidden, ValidationFailed
from engine.models import Case, CaseEvent, OrgUnit, Task
from engine.people import access
from engine.procedures import bundle
from engine.procedures.deploy import deploy_folders
from engine.services import Services
from engine.tasks import addsign, countersign, inbox
from engine.vocabulary import TaskOperation
from tests.conftest import user_id
from tests.procedures import variant
from tests.test_engine import form, holder, open_tasks, start
from tests.test_sendback import events, row

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "dibao_countersign"
ITEM = "MZ-DIBAO-SIGN"
# The posts of each sign-off step in the fixture, as the demo county's A holders of 清水镇 and 青山县 hold them.
TOWN_REVIEW = ["town_civil_affairs", "town_health", "town_leader"]
TOWN_MEETING = ["town_agriculture", "town_civil_affairs", "town_leader"]
COUNTY = ["county_civil_affairs", "county_disabled_federation"]
DEPLOYED: set[str] = set()
OPINIONS = {
    "approve": "经入户核查，申请人家庭成员中一人重病长期住院，家庭年人均收入低于当地保障标准，同意纳入最低生活保障",
    "reject": "经核查，申请人名下有登记在册的营运车辆一辆，家庭财产状况不符合最低生活保障条件，不同意",
}


def deployed(svc: Services) -> None:
    """The fixture procedure in the session's database, once."""
    if svc.db.url not in DEPLOYED:
        with svc.db.write() as session:
            deploy_folders(session, [FIXTURE], svc.settings.max_diagram_bytes)
        DEPLOYED.add(svc.db.url)


# -- helpers -------------------------------------------------------------------------------------------------------


def to_step(svc: Services, name: str, step: str) -> Case:
    """A new case whose every step before `step` was approved (each sign-off by all its posts)."""
    deployed(svc)
    case = start(svc, ITEM, name=name)
    for _ in range(12):
        [task, *_] = open_tasks(svc, case.id)
        if task.element_id == step:
            return case
        sign(svc, task, "approve")
    raise AssertionError(f"{step} not reached")


def answer(svc: Services, task: Task, decision: str) -> dict[str, Any]:
    data = form(svc, task, decision)
    opinion = next(name for name in data if name.endswith("_opinion"))
    return data | {opinion: OPINIONS[decision]}


def sign(svc: Services, task: Task, decision: str) -> Any:
    return svc.cases.complete(holder(svc, task), task.id, answer(svc, task, decision))


def signers(svc: Services, case_id: int, step: str) -> dict[str, Task]:
    """The step's open signer rows by role."""
    return {task.role_code: task for task in open_tasks(svc, case_id) if task.element_id == step}


def rows(svc: Services, case_id: int, step: str | None = None) -> list[Task]:
    with svc.db.read() as session:
        query = select(Task).where(Task.case_id == case_id).order_by(Task.created_at, Task.role_code)
        return list(session.scalars(query.where(Task.element_id == step) if step else query))


def state(svc: Services, case_id: int) -> tuple[Any, ...]:
    """Everything a refusal must leave as it was: the case row, its task rows and its history's length."""
    with svc.db.read() as session:
        case = session.get(Case, case_id)
        tasks = session.execute(select(Task.id, Task.status, Task.assignee_id, Task.answer, Task.arrival)
                                .where(Task.case_id == case_id).order_by(Task.id)).all()
        return case.status, case.revision, case.event_count, [tuple(task) for task in tasks]


def intact(svc: Services, case_id: int) -> None:
    """The chain verifies, and the replay of the whole history has the rows' own statuses."""
    with svc.db.read() as session:
        assert audit.verify(session, case_id) == []
        events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)))
        statuses = dict(session.execute(select(Task.id, Task.status).where(Task.case_id == case_id)).all())
    replayed = moment(events, events[-1].seq)
    assert {task_id: task.status for task_id, task in replayed.tasks.items()} == statuses


def in_post_inbox(svc: Services, username: str, task_id: str) -> bool:
    with svc.db.read() as session:
        actor = locking.actor(session, user_id(svc, username))
        return task_id in {line.id for line in inbox.tasks(session, actor, "post", limit=500)}


def held(svc: Services, case_id: int, step: str) -> Task:
    [own] = [task for task in rows(svc, case_id, step) if task.signing_for is None]
    return own


# -- 会签: every post must approve ------------------------------------------------------------------------------------


def test_joint_sign_off_waits_for_every_post_then_moves_once(services: Services) -> None:
    case = to_step(services, "会签甲", "town_review")
    step = held(services, case.id, "town_review")
    assert step.status == "held" and step.role_code == "town_civil_affairs"
    shares = signers(services, case.id, "town_review")
    assert sorted(shares) == TOWN_REVIEW
    assert {task.signing_for for task in shares.values()} == {step.id}
    assert {task.arrival for task in shares.values()} == {"sign_off"}
    # Each share waits in its own post's inbox; the step's own row in none.
    assert in_post_inbox(services, "qingshui_health", shares["town_health"].id)
    assert in_post_inbox(services, "qingshui_leader", shares["town_leader"].id)
    assert not in_post_inbox(services, "qingshui_leader", shares["town_health"].id)
    assert not in_post_inbox(services, "qingshui_civil", step.id)
    sign(services, shares["town_civil_affairs"], "approve")
    sign(services, shares["town_health"], "approve")
    # Two of three: the step is still held, the workflow has not moved.
    assert held(services, case.id, "town_review").status == "held"
    assert list(signers(services, case.id, "town_review")) == ["town_leader"]
    assert events(services, case.id, "task_completed")[-1].task_id != step.id
    sign(services, shares["town_leader"], "approve")
    done = row(services, step.id)
    assert done.status == "completed" and done.completed_by_id == holder(services, shares["town_leader"])
    assert [event.task_id for event in events(services, case.id, "task_completed")].count(step.id) == 1
    signed = [event for event in events(services, case.id, "task_signed") if event.step == "乡镇联合审核"]
    assert [event.task_id for event in signed] == [shares[role].id for role in TOWN_REVIEW]
    assert signed[0].after["town_opinion"] == OPINIONS["approve"]
    assert sorted(signers(services, case.id, "town_meeting")) == TOWN_MEETING
    intact(services, case.id)


def test_one_refusal_decides_a_joint_sign_off_and_cancels_the_late_signer(services: Services) -> None:
    case = to_step(services, "会签乙", "town_review")
    shares = signers(services, case.id, "town_review")
    sign(services, shares["town_health"], "approve")
    sign(services, shares["town_leader"], "reject")
    with services.db.read() as session:
        ended = session.get(Case, case.id)
    assert (ended.status, ended.result) == ("completed", "rejected")
    late = row(services, shares["town_civil_affairs"].id)
    assert late.status == "cancelled"
    [why] = [event for event in events(services, case.id, "task_cancelled") if event.task_id == late.id]
    assert "已不可能达到通过所需的 3 个同意" in why.after["why"]
    # The step was completed with the refusal that decided it.
    [completed] = [e for e in events(services, case.id, "task_completed") if e.step == "乡镇联合审核"]
    assert completed.after["town_decision"] == "reject"
    assert completed.actor_id == holder(services, shares["town_leader"])
    before = state(services, case.id)
    with pytest.raises(Conflict, match="已撤销"):
        sign(services, shares["town_civil_affairs"], "approve")
    assert state(services, case.id) == before
    intact(services, case.id)


# -- 或签: one approval suffices -----------------------------------------------------------------------------------


def test_any_one_approval_suffices(services: Services) -> None:
    case = to_step(services, "或签甲", "county_approval")
    shares = signers(services, case.id, "county_approval")
    assert sorted(shares) == COUNTY
    assert in_post_inbox(services, "county_disabled", shares["county_disabled_federation"].id)
    sign(services, shares["county_disabled_federation"], "reject")
    # One refusal of two: the other may still approve.
    assert list(signers(services, case.id, "county_approval")) == ["county_civil_affairs"]
    sign(services, shares["county_civil_affairs"], "approve")
    with services.db.read() as session:
        ended = session.get(Case, case.id)
    assert (ended.status, ended.result) == ("completed", "approved")
    intact(services, case.id)


def test_any_first_approval_cancels_the_other(services: Services) -> None:
    case = to_step(services, "或签乙", "county_approval")
    shares = signers(services, case.id, "county_approval")
    sign(services, shares["county_civil_affairs"], "approve")
    assert row(services, shares["county_disabled_federation"].id).status == "cancelled"
    with services.db.read() as session:
        assert session.get(Case, case.id).result == "approved"
    intact(services, case.id)


def test_any_refused_only_when_every_post_refuses(services: Services) -> None:
    case = to_step(services, "或签丙", "county_approval")
    shares = signers(services, case.id, "county_approval")
    sign(services, shares["county_civil_affairs"], "reject")
    sign(services, shares["county_disabled_federation"], "reject")
    with services.db.read() as session:
        assert session.get(Case, case.id).result == "rejected"
    intact(services, case.id)


# -- 2 of 3 ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("decisions,outcome,late", [
    (["approve", "approve"], "county_approval", True),
    (["approve", "reject", "approve"], "county_approval", False),
    (["reject", "approve", "reject"], "rejected", False),
    (["reject", "reject"], "rejected", True),
])
def test_two_of_three(services: Services, decisions: list[str], outcome: str, late: bool) -> None:
    words = {"approve": "同", "reject": "否"}
    case = to_step(services, "比例" + "".join(words[d] for d in decisions), "town_meeting")
    shares = signers(services, case.id, "town_meeting")
    for role, decision in zip(TOWN_MEETING, decisions, strict=False):
        assert row(services, held(services, case.id, "town_meeting").id).status == "held"
        sign(services, shares[role], decision)
    if outcome == "rejected":
        with services.db.read() as session:
            assert session.get(Case, case.id).result == "rejected"
    else:
        assert sorted(signers(services, case.id, outcome)) == COUNTY
    last = row(services, shares[TOWN_MEETING[-1]].id)
    assert last.status == ("cancelled" if late else "completed")
    assert row(services, held(services, case.id, "town_meeting").id).status == "completed"
    intact(services, case.id)


def test_the_rule_counts_shares() -> None:
    share = countersign.SignRule("ratio", ("a", "b", "c"), "f", "approve", (2, 3))
    assert [share.needed(n) for n in (2, 3, 4, 6)] == [2, 2, 3, 4]
    assert share.outcome(3, 1, 1) is None and share.outcome(3, 2, 0) is True and share.outcome(3, 0, 2) is False
    assert countersign.SignRule("all", (), "f", "a").outcome(3, 2, 0) is None
    assert countersign.SignRule("any", (), "f", "a").outcome(2, 0, 1) is None


# -- refusals ----------------------------------------------------------------------------------------------------------


def test_refusals_on_a_sign_off_change_nothing(services: Services) -> None:
    case = to_step(services, "会签丙", "town_review")
    step = held(services, case.id, "town_review")
    shares = signers(services, case.id, "town_review")
    sign(services, shares["town_health"], "approve")
    before = state(services, case.id)
    # Not a signer: the window of the same town.
    with pytest.raises(Forbidden, match="不是该任务所属岗位"):
        services.cases.complete(user_id(services, "qingshui_window"), shares["town_leader"].id,
                                answer(services, shares["town_leader"], "approve"))
    # The step's own row, held while its posts sign.
    with pytest.raises(Conflict, match="等待会签或加签"):
        services.cases.complete(holder(services, step), step.id, answer(services, step, "approve"))
    # A share signed already: a second submission is refused, naming who signed and when.
    with pytest.raises(Conflict, match="清水镇卫健办（A岗）于 .* 办理完毕"):
        sign(services, shares["town_health"], "reject")
    with pytest.raises(ValidationFailed, match="审核意见"):
        services.cases.complete(holder(services, shares["town_leader"]), shares["town_leader"].id,
                                {"town_decision": "approve", "town_opinion": ""})
    # A share is signed, never sent back or handed on with 加签.
    with pytest.raises(Forbidden, match="只能签署意见"):
        services.cases.add_signer(holder(services, shares["town_leader"]), shares["town_leader"].id,
                                  "town_window", case.town_id, "after", "请窗口核实")
    assert state(services, case.id) == before
    intact(services, case.id)


def test_withdrawn_before_anyone_signs_cancels_the_step_and_its_signers(services: Services) -> None:
    case = to_step(services, "会签丁", "village_review")
    [village] = open_tasks(services, case.id)
    committee = holder(services, village)
    sign(services, village, "approve")
    step = held(services, case.id, "town_review")
    shares = signers(services, case.id, "town_review")
    services.cases.withdraw(committee, village.id, "民主评议记录漏填参会人数，撤回补正后重新提交")
    assert row(services, step.id).status == "cancelled"
    assert {row(services, share.id).status for share in shares.values()} == {"cancelled"}
    [again] = open_tasks(services, case.id)
    assert again.element_id == "village_review"
    intact(services, case.id)
    sign(services, again, "approve")
    assert sorted(signers(services, case.id, "town_review")) == TOWN_REVIEW
    intact(services, case.id)


def test_the_signings_view_shows_mode_tally_and_who_signed(services: Services) -> None:
    case = to_step(services, "会签戊", "town_meeting")
    shares = signers(services, case.id, "town_meeting")
    sign(services, shares["town_leader"], "reject")
    with services.db.read() as session:
        version = services.cases.versions.get(session, session.get(Case, case.id).version_id)
        found = countersign.signings(session, version, case.id)
    joint, meeting = found
    assert (joint.kind, joint.status, joint.outcome, joint.signed, joint.total) == ("all", "completed", True, 3, 3)
    assert (meeting.kind, meeting.ratio, meeting.needed, meeting.status) == ("ratio", "2/3", 2, "held")
    assert (meeting.approvals, meeting.refusals, meeting.outcome) == (0, 1, None)
    leader = next(s for s in meeting.signatures if s.role_code == "town_leader")
    assert (leader.signed_by, leader.decision, leader.approved) == ("清水镇分管领导（A岗）", "reject", False)
    assert leader.opinion == OPINIONS["reject"] and leader.org_name == "清水镇"
    assert [s.role_code for s in meeting.signatures] == ["town_civil_affairs", "town_agriculture", "town_leader"]
    assert [s.role_code for s in meeting.waiting] == ["town_civil_affairs", "town_agriculture"]


# -- 加签 -------------------------------------------------------------------------------------------------------------


def village_task(svc: Services, name: str) -> tuple[Case, Task]:
    deployed(svc)
    case = start(svc, ITEM, name=name)
    [task] = open_tasks(svc, case.id)
    return case, task


def test_signer_added_before_the_holder_answers_first(services: Services) -> None:
    case, task = village_task(services, "加签甲")
    committee = holder(services, task)
    added = services.cases.add_signer(committee, task.id, "town_civil_affairs", case.town_id, "before",
                                      "申请人家庭收入情况复杂，请乡镇民政办先行核实后再作初审")
    assert added.position == "before" and added.post.name == "清水镇 民政办"
    own = row(services, task.id)
    # Claimed on the way: it comes back to the one who added the signer.
    assert own.status == "held" and own.assignee_id == committee
    signer = row(services, added.signer_id)
    assert (signer.status, signer.signing_for, signer.sign_position, signer.arrival) == (
        "open", task.id, "before", "added_signer")
    assert signer.arrival_note == "申请人家庭收入情况复杂，请乡镇民政办先行核实后再作初审"
    assert in_post_inbox(services, "qingshui_civil", signer.id)
    [event] = events(services, case.id, "signer_added")
    assert event.after == {"post": "清水镇 民政办", "position": "before",
                           "reason": "申请人家庭收入情况复杂，请乡镇民政办先行核实后再作初审"}
    data = answer(services, signer, "approve")
    services.cases.complete(holder(services, signer), signer.id, data)
    back = row(services, task.id)
    assert (back.status, back.arrival, back.assignee_id, back.answer) == ("open", "signed_before", committee, data)
    assert row(services, signer.id).status == "completed"
    # The workflow has not moved until the holder answers.
    assert [t.id for t in open_tasks(services, case.id)] == [task.id]
    services.cases.complete(committee, task.id, answer(services, task, "approve"))
    assert sorted(signers(services, case.id, "town_review")) == TOWN_REVIEW
    intact(services, case.id)


def test_signer_added_after_the_holder_completes_the_task(services: Services) -> None:
    case, task = village_task(services, "加签乙")
    committee = holder(services, task)
    added = services.cases.add_signer(committee, task.id, "village_agent", case.village_id, "after",
                                      "请代办员核对申请人提交的户口簿与实际居住人口是否一致")
    signer = row(services, added.signer_id)
    assert signer.status == "pending" and not in_post_inbox(services, "dongpo_agent", signer.id)
    with pytest.raises(Conflict, match="前一位办理人办理后"):
        sign(services, signer, "approve")
    mine = answer(services, task, "approve")
    services.cases.complete(committee, task.id, mine)
    own = row(services, task.id)
    assert (own.status, own.answer) == ("held", mine)
    signer = row(services, added.signer_id)
    assert (signer.status, signer.answer) == ("open", mine)
    assert in_post_inbox(services, "dongpo_agent", signer.id)
    assert [t.id for t in open_tasks(services, case.id)] == [signer.id]
    theirs = answer(services, signer, "approve") | {"village_opinion": "已核对户口簿，共同生活人口与申请一致"}
    services.cases.complete(user_id(services, "dongpo_agent"), signer.id, theirs)
    assert row(services, task.id).status == "completed" and row(services, signer.id).status == "completed"
    [completed] = [e for e in events(services, case.id, "task_completed") if e.task_id == task.id]
    assert completed.after == theirs and completed.actor_id == user_id(services, "dongpo_agent")
    assert [e.task_id for e in events(services, case.id, "task_signed")] == [task.id, signer.id]
    assert sorted(signers(services, case.id, "town_review")) == TOWN_REVIEW
    intact(services, case.id)


def test_add_signer_refusals_change_nothing(services: Services) -> None:
    case, task = village_task(services, "加签丙")
    committee = holder(services, task)
    with services.db.read() as session:
        other_town = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "510123102000"))
    before = state(services, case.id)
    refusals = [
        (Forbidden, "不是该任务所属岗位", user_id(services, "qingshui_civil"), "town_civil_affairs", case.town_id,
         "before", "请核实"),
        (ValidationFailed, "请填写加签理由", committee, "town_civil_affairs", case.town_id, "before", "   "),
        (ValidationFailed, "不是本办件所在村、镇、县的办理岗位", committee, "town_civil_affairs", other_town,
         "before", "请核实"),
        (ValidationFailed, "不能加签本岗位", committee, "village_committee", case.village_id, "after", "请核实"),
        (ValidationFailed, "不是本办件所在村、镇、县的办理岗位", committee, "supervisor", case.county_id,
         "after", "请监督"),
        (ValidationFailed, "所选岗位不存在", committee, "no_such_role", case.town_id, "after", "请核实"),
        (ValidationFailed, "加签位置", committee, "town_civil_affairs", case.town_id, "beside", "请核实"),
    ]
    for error, message, actor, role, org, position, why in refusals:
        with pytest.raises(error, match=message):
            services.cases.add_signer(actor, task.id, role, org, position, why)
        assert state(services, case.id) == before, message
    services.cases.add_signer(committee, task.id, "village_agent", case.village_id, "after", "请代办员核对户籍")
    before = state(services, case.id)
    with pytest.raises(Conflict, match="已加签了一个在您之后签署的岗位"):
        services.cases.add_signer(committee, task.id, "town_civil_affairs", case.town_id, "before", "请核实")
    assert state(services, case.id) == before
    intact(services, case.id)


def test_the_posts_offered_serve_the_case(services: Services) -> None:
    case, task = village_task(services, "加签丁")
    with services.db.read() as session:
        offered = addsign.candidates(session, case, (task.role_code, task.org_id))
    codes = [(post.role_code, post.org_name) for post in offered]
    assert codes[0] == ("village_agent", "东坡村") and ("village_committee", "东坡村") not in codes
    assert ("town_civil_affairs", "清水镇") in codes and ("county_civil_affairs", "青山县") in codes
    assert not any(code in ("supervisor", "auditor", "admin") for code, _ in codes)
    assert not any(org == "石桥镇" for _, org in codes)


# -- deploying -------------------------------------------------------------------------------------------------------


ROLES = {code for code, _, _ in setup.ROLES}


@pytest.mark.parametrize("properties,message", [
    ({"signPosts": "town_civil_affairs,town_nowhere"}, "signPosts 中的“town_nowhere”不是已知的角色代码"),
    ({"signPosts": "town_civil_affairs"}, "会签至少要有两个岗位"),
    ({"signPosts": "town_leader,supervisor"}, "“supervisor”是电子监察、审计或系统管理岗位"),
    ({"signMode": "ratio"}, "须用 signRatio 写明同意的比例"),
    ({"signMode": "ratio", "signRatio": "4/3"}, "signRatio“4/3”无效"),
    ({"signMode": "ratio", "signRatio": "0/2"}, "signRatio“0/2”无效"),
    ({"signRatio": "2/3"}, "signRatio 只在 signMode 为 ratio 时有效"),
    ({"signMode": "most"}, "signMode 的值“most”无效"),
    ({"signField": None}, "须用 signField 指明"),
    ({"signField": "town_remark"}, "signField“town_remark”不是表单 town_review.schema.json 中的字段"),
    ({"signApprove": "yes"}, "signApprove“yes”不是字段“town_decision”的可选值（可选：approve、reject）"),
    ({"signMode": None}, "没有 signMode"),
])
def test_deploying_refuses_bad_sign_off_properties(tmp_path: Path, properties: dict[str, str | None],
                                                   message: str) -> None:
    folder = variant(tmp_path, "MZ-DIBAO-SIGN-BAD", properties={"town_review": properties}, source=FIXTURE)
    with pytest.raises(DeployRefused) as caught:
        bundle.read_folder(folder, ROLES, Settings.max_diagram_bytes)
    placed = [(p.element_id, p.message) for p in caught.value.problems]
    assert any(element == "town_review" and message in text for element, text in placed), placed


def test_a_sign_off_only_on_a_user_task(tmp_path: Path) -> None:
    folder = variant(tmp_path, "MZ-DIBAO-SIGN-GW", properties={"Gateway_town": {"signMode": "all"}}, source=FIXTURE)
    with pytest.raises(DeployRefused) as caught:
        bundle.read_folder(folder, ROLES, Settings.max_diagram_bytes)
    assert [(p.element_id, p.message) for p in caught.value.problems] == [
        ("Gateway_town", "会签属性（signMode 等）只能设在用户任务上")]


def test_the_fixture_deploys_clean() -> None:
    assert bundle.read_folder(FIXTURE, ROLES, Settings.max_diagram_bytes).warnings == []


def test_history_names_signers_and_a_signature_is_not_withdrawn(services: Services) -> None:
    case = to_step(services, "会签己", "town_review")
    step = held(services, case.id, "town_review")
    shares = signers(services, case.id, "town_review")
    created = {event.task_id: event for event in events(services, case.id, "task_created")}
    assert [c.key for c in history.changes(created[step.id], None, {}, {case.town_id: "清水镇"})] == ["post", "held"]
    [share] = history.changes(created[shares["town_health"].id], None, {}, {case.town_id: "清水镇"})
    assert (share.key, share.after) == ("signer_post", "清水镇 卫健办")
    sign(services, shares["town_health"], "approve")
    signed = row(services, shares["town_health"].id)
    with services.db.read() as session:
        actor = locking.actor(session, holder(services, signed))
        assert not access.may_operate(actor, TaskOperation.WITHDRAW, signed, session.get(Case, case.id))


def test_a_step_decided_by_its_signers_is_not_withdrawn_by_the_last_of_them(services: Services) -> None:
    case = to_step(services, "会签庚", "town_review")
    step = held(services, case.id, "town_review")
    shares = signers(services, case.id, "town_review")
    for role in sorted(shares, key=lambda code: code == "town_civil_affairs"):
        sign(services, shares[role], "approve")
    done = row(services, step.id)
    assert done.status == "completed"
    with pytest.raises(Conflict, match="多个岗位签署"):
        services.cases.withdraw(done.completed_by_id, step.id, "想改意见")
    assert row(services, step.id).status == "completed"
