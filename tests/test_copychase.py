"""抄送 and 催办 through the engine alone, on SQLite and PostgreSQL: a step's `copyTo`, copies by hand and the 抄送我的
list; chases by supervisor, town leader and village agent, who is told, and the supervision desk's count."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import clock
from engine.audit import chain as audit
from engine.errors import Conflict, DeployRefused, Forbidden, NotFound, ValidationFailed
from engine.models import Case, CaseCopy, CaseEvent, Chase, Notification, OrgUnit, ServiceItem, Task, User
from engine.people.accounts import set_away
from engine.people.jurisdiction import Actor
from engine.procedures.bundle import read_folder
from engine.procedures.deploy import deploy_folders, known_roles
from engine.services import Services
from engine.supervision import desk
from engine.tasks import copy
from engine.tasks.copy import Post
from tests.conftest import user_id
from tests.procedures import variant
from tests.test_engine import form, holder, open_tasks, start

ITEM = "COPY-DIBAO"
COUNTY, QINGSHUI, SHIQIAO = "510123", "510123101000", "510123102000"
# The village's opinion is copied to the town's leader and the county's civil affairs bureau when it is given.
COPY_TO = "town_leader，county_civil_affairs"


@pytest.fixture
def item(services: Services, tmp_path: Path) -> str:
    """低保 with a `copyTo` on the village review, deployed once per database under a code of its own."""
    with services.db.write() as session:
        if session.get(ServiceItem, ITEM) is None:
            deploy_folders(session, [variant(tmp_path, ITEM, properties={"village_review": {"copyTo": COPY_TO}})],
                           services.settings.max_diagram_bytes)
    return ITEM


def org(svc: Services, code: str) -> int:
    with svc.db.read() as session:
        return session.scalar(select(OrgUnit.id).where(OrgUnit.code == code))


def actor(svc: Services, username: str) -> Actor:
    with svc.db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        return Actor(user.id, user.username, user.display_name, user.role_code, user.org_id, user.org_level, user.away)


def task_of(svc: Services, case_id: int, element_id: str) -> Task:
    [task] = [task for task in open_tasks(svc, case_id) if task.element_id == element_id]
    return task


def copies(svc: Services, case_id: int) -> list[CaseCopy]:
    with svc.db.read() as session:
        return list(session.scalars(select(CaseCopy).where(CaseCopy.case_id == case_id).order_by(CaseCopy.id)))


def chases(svc: Services, case_id: int) -> list[Chase]:
    with svc.db.read() as session:
        return list(session.scalars(select(Chase).where(Chase.case_id == case_id).order_by(Chase.id)))


def events(svc: Services, case_id: int, kind: str) -> list[CaseEvent]:
    with svc.db.read() as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
                                    .order_by(CaseEvent.seq)))


def told(svc: Services, case_id: int, kind: str) -> dict[str, set[str]]:
    """Each notification key of the case's `kind`, to the usernames told."""
    with svc.db.read() as session:
        rows = session.execute(select(Notification.key, User.username).join(User, User.id == Notification.user_id)
                               .where(Notification.case_id == case_id, Notification.kind == kind))
        found: dict[str, set[str]] = {}
        for key, username in rows:
            found.setdefault(key, set()).add(username)
        return found


def event_count(svc: Services, case_id: int) -> int:
    with svc.db.read() as session:
        return session.scalar(select(Case.event_count).where(Case.id == case_id))


def listed(svc: Services, username: str, case_id: int) -> list[tuple[str, str, bool]]:
    """What 抄送我的 shows the user of this case: (step, post role, read)."""
    with svc.db.read() as session:
        rows = copy.copied_to(session, actor(svc, username), limit=500)
    return [(row.step, row.role_code, row.read_at is not None) for row in rows if row.case_id == case_id]


def verified(svc: Services, case_id: int) -> None:
    with svc.db.read() as session:
        assert audit.verify(session, case_id) == []


@contextmanager
def away(svc: Services, username: str) -> Iterator[None]:
    with svc.db.write() as session:
        set_away(session, username, True)
    try:
        yield
    finally:
        with svc.db.write() as session:
            set_away(session, username, False)


# -- 抄送 ----------------------------------------------------------------------------------------------


def test_copy_to_from_the_diagram_when_the_step_is_completed(services: Services, item: str) -> None:
    case = start(services, item, name="抄送流程甲")
    village = task_of(services, case.id, "village_review")
    assert copies(services, case.id) == []
    services.cases.complete(holder(services, village), village.id, form(services, village, "approve"))
    made = copies(services, case.id)
    assert [(row.role_code, row.org_id, row.step, row.copied_by_id, row.read_at) for row in made] == [
        ("town_leader", org(services, QINGSHUI), "村委会协助并提出意见", None, None),
        ("county_civil_affairs", org(services, COUNTY), "村委会协助并提出意见", None, None)]
    [event] = events(services, case.id, "case_copied")
    assert (event.actor_name, event.task_id) == ("系统", village.id)
    assert event.after == {"copied_to": ["清水镇 分管领导", "青山县 县民政局"]}
    assert told(services, case.id, "case_copy") == {f"case_copy:{made[0].id}": {"qingshui_leader"},
                                                    f"case_copy:{made[1].id}": {"county_civil"}}
    assert listed(services, "qingshui_leader", case.id) == [("村委会协助并提出意见", "town_leader", False)]
    assert listed(services, "county_civil", case.id) == [("村委会协助并提出意见", "county_civil_affairs", False)]
    # Nobody else's 抄送我的 shows it: not the town's civil affairs, which has the next task.
    assert listed(services, "qingshui_civil", case.id) == []
    verified(services, case.id)


def test_an_unknown_role_in_copy_to_refuses_the_deployment(services: Services, tmp_path: Path) -> None:
    folder = variant(tmp_path, "COPY-BAD", properties={"village_review": {"copyTo": "town_leader, town_mayor"},
                                                       "Timer_village_publicity": {"copyTo": "town_leader"}})
    with services.db.read() as session:
        roles = known_roles(session)
    with pytest.raises(DeployRefused) as refused:
        read_folder(folder, roles, services.settings.max_diagram_bytes)
    texts = [problem.text for problem in refused.value.problems]
    assert any("village_review" in text and "“town_mayor”不是已知的角色代码" in text for text in texts), texts
    assert any("Timer_village_publicity" in text and "只能设在用户任务上" in text for text in texts), texts


def test_copy_by_hand_lists_it_for_the_post_and_reading_marks_it_for_the_post(services: Services) -> None:
    case = start(services, name="抄送手工甲")
    village = task_of(services, case.id, "village_review")
    services.cases.complete(holder(services, village), village.id, form(services, village, "approve"))
    town = task_of(services, case.id, "town_investigation")
    civil = holder(services, town)
    services.cases.claim(civil, town.id)
    note = "该户有重度残疾成员，请县残联同步掌握情况，必要时启动残疾人两项补贴的主动服务"
    made = services.cases.copy_case(civil, town.id, [Post("county_disabled_federation", org(services, COUNTY)),
                                                     Post("village_committee", org(services, "510123101201"))], note)
    assert [(row.role_code, row.copied_by_id, row.note) for row in made] == [
        ("county_disabled_federation", civil, note), ("village_committee", civil, note)]
    [event] = events(services, case.id, "case_copied")
    assert (event.actor_id, event.step) == (civil, "家庭经济状况调查")
    assert event.after == {"copied_to": ["青山县 县残联", "东坡村 村委会"], "copy_note": note}
    assert told(services, case.id, "case_copy") == {f"case_copy:{made[0].id}": {"county_disabled"},
                                                    f"case_copy:{made[1].id}": {"dongpo_committee"}}
    assert listed(services, "county_disabled", case.id) == [("家庭经济状况调查", "county_disabled_federation", False)]
    with services.db.read() as session:
        assert copy.count(session, actor(services, "county_disabled"), unread_only=True) >= 1
        unread = copy.count(session, actor(services, "county_disabled"), unread_only=True)
    # Opened: read for the post; another post's copy is not found and nothing is marked.
    with pytest.raises(NotFound), services.db.write() as session:
        copy.mark_read(session, actor(services, "qingshui_leader"), made[0].id, clock.now())
    with services.db.write() as session:
        copy.mark_read(session, actor(services, "county_disabled"), made[0].id, clock.now())
    assert listed(services, "county_disabled", case.id) == [("家庭经济状况调查", "county_disabled_federation", True)]
    with services.db.read() as session:
        assert copy.count(session, actor(services, "county_disabled"), unread_only=True) == unread - 1
    assert [row.read_at is None for row in copies(services, case.id)] == [False, True]
    # The same post again at the same step: one row, the second refused.
    with pytest.raises(Conflict, match="本环节已抄送给青山县 县残联，无需重复抄送"):
        services.cases.copy_case(civil, town.id, [Post("county_disabled_federation", org(services, COUNTY))], "")
    assert len(copies(services, case.id)) == 2
    verified(services, case.id)


def test_copy_to_a_post_covered_by_b_tells_both_holders(services: Services) -> None:
    case = start(services, name="抄送手工乙")
    village = task_of(services, case.id, "village_review")
    [made] = services.cases.copy_case(holder(services, village), village.id,
                                      [Post("town_civil_affairs", org(services, QINGSHUI))], "")
    assert list(told(services, case.id, "case_copy").values()) == [{"qingshui_civil", "qingshui_civil_b"}]
    with services.db.write() as session:
        copy.mark_read(session, actor(services, "qingshui_civil_b"), made.id, clock.now())
    assert listed(services, "qingshui_civil", case.id) == [("村委会协助并提出意见", "town_civil_affairs", True)]


def test_copy_refusals_change_nothing(services: Services) -> None:
    case = start(services, name="抄送拒绝")
    village = task_of(services, case.id, "village_review")
    committee = holder(services, village)
    county = Post("county_civil_affairs", org(services, COUNTY))
    with pytest.raises(Forbidden, match="不是该任务所属岗位"):
        services.cases.copy_case(user_id(services, "dongpo_agent"), village.id, [county], "")
    with pytest.raises(Forbidden, match="不在本办件的辖区内"):
        services.cases.copy_case(committee, village.id, [county, Post("town_leader", org(services, SHIQIAO))], "")
    with pytest.raises(NotFound, match="岗位不存在"):
        services.cases.copy_case(committee, village.id, [Post("town_mayor", org(services, QINGSHUI))], "")
    with pytest.raises(NotFound, match="岗位不存在"):
        services.cases.copy_case(committee, village.id, [Post("county_civil_affairs", org(services, QINGSHUI))], "")
    with pytest.raises(Forbidden, match="不接收抄送"):
        services.cases.copy_case(committee, village.id, [Post("admin", org(services, COUNTY))], "")
    with pytest.raises(ValidationFailed, match="请选择要抄送的岗位"):
        services.cases.copy_case(committee, village.id, [], "")
    with pytest.raises(ValidationFailed, match="不能超过 500 字"):
        services.cases.copy_case(committee, village.id, [county], "说明" * 251)
    # Claimed by another on the post (the committee's only holder claims; its agent is not on the post).
    services.cases.complete(committee, village.id, form(services, village, "approve"))
    with pytest.raises(Conflict, match="办理完毕"):
        services.cases.copy_case(committee, village.id, [county], "")
    town = task_of(services, case.id, "town_investigation")
    services.cases.claim(holder(services, town), town.id)
    with pytest.raises(Forbidden, match="您不能抄送该任务"):
        services.cases.copy_case(user_id(services, "qingshui_civil_b"), town.id, [county], "")
    assert copies(services, case.id) == [] and told(services, case.id, "case_copy") == {}
    assert events(services, case.id, "case_copied") == []
    verified(services, case.id)


def test_parse_posts_names_what_is_wrong() -> None:
    assert copy.parse_posts([{"role": "town_leader", "org_id": 3}, {"role": "town_leader", "org_id": 3}]) == [
        Post("town_leader", 3)]
    for wrong in (None, [], [{"role": "town_leader"}], [{"role": "", "org_id": 1}], [{"role": "x", "org_id": True}],
                  ["town_leader"]):
        with pytest.raises(ValidationFailed):
            copy.parse_posts(wrong)


# -- 催办 ----------------------------------------------------------------------------------------------


def at_town(svc: Services, name: str) -> tuple[Case, Task]:
    """A 低保 case waiting, unclaimed, at the town's investigation (清水镇 民政办, A and B holders)."""
    case = start(svc, name=name)
    village = task_of(svc, case.id, "village_review")
    svc.cases.complete(holder(svc, village), village.id, form(svc, village, "approve"))
    return case, task_of(svc, case.id, "town_investigation")


def counted(svc: Services, username: str, role_code: str, handler: int | None) -> int:
    """The desk's 催办次数 this month for the post of 清水镇 and the handler, as `username` sees it."""
    with svc.db.read() as session:
        rows = desk.chases(session, actor(svc, username), desk.filters({}))
    return sum(row.chases for row in rows if (row.role_code, row.org_id, row.handler_id) == (
        role_code, org(svc, QINGSHUI), handler))


def test_chased_by_supervisor_leader_and_agent_each_once_until_something_happens(services: Services) -> None:
    case, town = at_town(services, "催办甲")
    supervisor, leader, agent = (user_id(services, name) for name in ("supervisor", "qingshui_leader",
                                                                      "dongpo_agent"))
    before = counted(services, "supervisor", "town_civil_affairs", None)
    row = services.cases.chase(supervisor, town.id, "已超过乡镇调查的合理时间，请尽快入户调查")
    assert (row.handler_id, row.chased_by_id, row.role_code, row.step) == (
        None, supervisor, "town_civil_affairs", "家庭经济状况调查")
    # Unclaimed: every holder of the post is told.
    assert told(services, case.id, "chase") == {f"chase:{row.id}": {"qingshui_civil", "qingshui_civil_b"}}
    [event] = events(services, case.id, "task_chased")
    assert (event.actor_id, event.task_id, event.after) == (supervisor, town.id, {
        "chased": "清水镇 民政办（尚未认领）", "chase_note": "已超过乡镇调查的合理时间，请尽快入户调查"})
    # Again by the same person before anything happened on the task: refused, nothing changes.
    seq = event_count(services, case.id)
    with pytest.raises(Conflict, match="催办过该任务，尚未办理"):
        services.cases.chase(supervisor, town.id, "")
    assert event_count(services, case.id) == seq and len(chases(services, case.id)) == 1
    # Others may chase it too, once each.
    services.cases.chase(leader, town.id, "")
    services.cases.chase(agent, town.id, "申请人家中老人病重，盼早日办理")
    with pytest.raises(Conflict):
        services.cases.chase(agent, town.id, "")
    assert counted(services, "supervisor", "town_civil_affairs", None) == before + 3
    # Claimed: something happened, so the supervisor may chase again, and only the holder is told.
    civil = user_id(services, "qingshui_civil")
    services.cases.claim(civil, town.id)
    again = services.cases.chase(supervisor, town.id, "")
    assert again.handler_id == civil and told(services, case.id, "chase")[f"chase:{again.id}"] == {"qingshui_civil"}
    assert counted(services, "supervisor", "town_civil_affairs", civil) >= 1
    assert [e.actor_id for e in events(services, case.id, "task_chased")] == [supervisor, leader, agent, supervisor]
    verified(services, case.id)


def test_a_chase_of_an_away_holder_tells_the_b_post(services: Services) -> None:
    case, town = at_town(services, "催办乙")
    civil = user_id(services, "qingshui_civil")
    services.cases.claim(civil, town.id)
    with away(services, "qingshui_civil"):
        row = services.cases.chase(user_id(services, "qingshui_leader"), town.id, "")
    assert told(services, case.id, "chase") == {f"chase:{row.id}": {"qingshui_civil", "qingshui_civil_b"}}


def test_chase_refusals_change_nothing(services: Services) -> None:
    case, town = at_town(services, "催办拒绝")
    # Another post's clerk, another village's agent, another town's leader: none of theirs.
    for name in ("qingshui_window", "hewan_agent", "shiqiao_leader", "county_civil", "auditor"):
        with pytest.raises(Forbidden, match="您不能催办该任务"):
            services.cases.chase(user_id(services, name), town.id, "")
    with pytest.raises(ValidationFailed, match="不能超过 500 字"):
        services.cases.chase(user_id(services, "supervisor"), town.id, "快" * 501)
    with pytest.raises(NotFound):
        services.cases.chase(user_id(services, "supervisor"), "no-such-task", "")
    # Done: nothing left to chase.
    services.cases.complete(holder(services, town), town.id, form(services, town, "approve"))
    with pytest.raises(Conflict, match="办理完毕，无需催办"):
        services.cases.chase(user_id(services, "supervisor"), town.id, "")
    # A non-chaser is refused as such even on a completed task.
    with pytest.raises(Forbidden):
        services.cases.chase(user_id(services, "hewan_agent"), town.id, "")
    assert chases(services, case.id) == [] and told(services, case.id, "chase") == {}
    assert events(services, case.id, "task_chased") == []
    verified(services, case.id)
