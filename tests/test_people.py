"""People and places kept by administrators: each operation, its refusals, the events it writes, and 代岗 routing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.audit import system
from engine.errors import BianminError, Conflict, NotFound, ValidationFailed
from engine.models import ApiToken, OrgUnit, Role, SystemEvent, Task, User
from engine.people import access, accounts, places
from engine.people.accounts import authenticate
from engine.services import Services
from engine.tasks import inbox
from engine.vocabulary import SystemEventKind
from tests.conftest import make_services, user_id
from tests.test_engine import open_tasks, start
from webui.cli import main

NEW_TOWN, NEW_VILLAGE = "510123103000", "510123103201"


def _admin(session) -> User:  # type: ignore[no-untyped-def]
    return session.scalar(select(User).where(User.username == "admin"))


def _events(session, kind: str, subject: str) -> list[SystemEvent]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(SystemEvent).where(SystemEvent.kind == kind, SystemEvent.subject == subject)
                                .order_by(SystemEvent.seq)))


def _refused(svc: Services, error: type[BianminError], text: str, operation) -> None:  # type: ignore[no-untyped-def]
    """The operation is refused with a Chinese reason and leaves no trace: no row, no event."""
    with svc.db.read() as session:
        before = session.scalar(select(func.count()).select_from(SystemEvent))
    with pytest.raises(error) as raised, svc.db.write() as session:
        operation(session)
    assert text in raised.value.message
    with svc.db.read() as session:
        assert session.scalar(select(func.count()).select_from(SystemEvent)) == before


def test_org_tree_adds_a_town_and_a_village_with_checked_codes(services: Services) -> None:
    with services.db.write() as session:
        admin = _admin(session)
        town = places.add_org(session, NEW_TOWN, "青山县白鹭湾镇", "510123", by=admin)
        village = places.add_org(session, NEW_VILLAGE, "白鹭湾镇上游社区居民委员会", NEW_TOWN, by=admin)
        assert (town.level, village.level, village.parent_id) == ("town", "village", town.id)
    add = places.add_org
    _refused(services, ValidationFailed, "12 位数字", lambda s: add(s, "51012310320x", "坏代码村", NEW_TOWN))
    _refused(services, ValidationFailed, "12 位数字", lambda s: add(s, "51012310320", "短代码村", NEW_TOWN))
    _refused(services, Conflict, "已存在", lambda s: add(s, NEW_VILLAGE, "重复村", NEW_TOWN))
    _refused(services, ValidationFailed, "其下不能再设下级单位",
             lambda s: add(s, "510123103202", "村下村", NEW_VILLAGE))
    _refused(services, ValidationFailed, "前 9 位须为所属乡镇的代码",
             lambda s: add(s, "510123101203", "错镇村", NEW_TOWN))
    _refused(services, ValidationFailed, "前 6 位须为所属县的代码",
             lambda s: add(s, "510124104000", "外县镇", "510123"))
    _refused(services, ValidationFailed, "末 3 位须为 000", lambda s: add(s, "510123104001", "错码镇", "510123"))
    _refused(services, NotFound, "不存在", lambda s: add(s, "510123109201", "无上级村", "510123109000"))
    _refused(services, ValidationFailed, "名称", lambda s: add(s, "510123103203", "   ", NEW_TOWN))
    with services.db.write() as session:
        places.rename_org(session, NEW_VILLAGE, "白鹭湾镇上游村", by=_admin(session))
    _refused(services, ValidationFailed, "相同", lambda s: places.rename_org(s, NEW_VILLAGE, "白鹭湾镇上游村"))
    with services.db.read() as session:
        [added] = _events(session, SystemEventKind.ORG_ADDED, NEW_VILLAGE)
        assert added.after == {"name": "白鹭湾镇上游社区居民委员会", "level": "village", "parent": NEW_TOWN}
        assert added.actor_name == _admin(session).display_name
        [renamed] = _events(session, SystemEventKind.ORG_CHANGED, NEW_VILLAGE)
        assert (renamed.before, renamed.after) == ({"name": "白鹭湾镇上游社区居民委员会"}, {"name": "白鹭湾镇上游村"})
        listed = [(p.unit.code, p.depth) for p in places.tree(session)]
        assert listed.index((NEW_VILLAGE, 2)) == listed.index((NEW_TOWN, 1)) + 1
        assert system.verify(session) == []


def test_roles_are_added_and_renamed(services: Services) -> None:
    with services.db.write() as session:
        places.add_role(session, "town_veterans", "退役军人服务站", "town", by=_admin(session))
        places.rename_role(session, "town_veterans", "乡镇退役军人服务站", by=_admin(session))
    _refused(services, Conflict, "已存在", lambda s: places.add_role(s, "town_veterans", "重复", "town"))
    _refused(services, ValidationFailed, "角色代码", lambda s: places.add_role(s, "Town-X", "坏代码", "town"))
    _refused(services, ValidationFailed, "层级", lambda s: places.add_role(s, "town_y", "无层级", "province"))
    _refused(services, NotFound, "不存在", lambda s: places.rename_role(s, "nobody_role", "名"))
    with services.db.read() as session:
        assert session.get(Role, "town_veterans").name == "乡镇退役军人服务站"
        assert [e.kind for e in session.scalars(select(SystemEvent).where(SystemEvent.subject == "town_veterans")
                                                .order_by(SystemEvent.seq))] == ["role_added", "role_changed"]
        assert system.verify(session) == []


def test_accounts_passwords_and_tokens_are_recorded(services: Services) -> None:
    with services.db.write() as session:
        admin = _admin(session)
        accounts.add_user(session, "hewan_agent_b", "village_agent", "510123101202", display_name="欧阳秀英",
                          password="初始密码-12345", post_rank="B", by=admin)
    _refused(services, BianminError, "已存在", lambda s: accounts.add_user(
        s, "hewan_agent_b", "village_agent", "510123101202", password="another-pass-1"))
    _refused(services, BianminError, "不能设在", lambda s: accounts.add_user(
        s, "hewan_wrong", "town_window", "510123101202", password="another-pass-1"))
    with services.db.write() as session:
        accounts.set_password(session, "hewan_agent_b", "重设之后的密码-6789", by=_admin(session))
        accounts.set_active(session, "hewan_agent_b", False, by=_admin(session))
    _refused(services, Conflict, "已停用", lambda s: accounts.set_active(s, "hewan_agent_b", False))
    with services.db.write() as session:
        assert authenticate(session, "hewan_agent_b", "重设之后的密码-6789") is None  # inactive
        accounts.set_active(session, "hewan_agent_b", True, by=_admin(session))
        assert authenticate(session, "hewan_agent_b", "重设之后的密码-6789") is not None
        accounts.create_token(session, "hewan_agent_b", 30, by=_admin(session))
        token_id = session.scalar(select(ApiToken.id).join(User).where(User.username == "hewan_agent_b"))
        accounts.revoke_token(session, token_id, by=_admin(session))
    _refused(services, Conflict, "已撤销", lambda s: accounts.revoke_token(s, token_id))
    with services.db.read() as session:
        kinds = [e.kind for e in _all(session, "hewan_agent_b")]
        assert kinds == ["user_added", "password_reset", "user_deactivated", "user_reactivated", "token_created",
                         "token_revoked"]
        added = _all(session, "hewan_agent_b")[0]
        assert added.after == {"display_name": "欧阳秀英", "role": "village_agent", "org": "510123101202", "rank": "B"}
        # No secret is written into the chain.
        assert all("密码" not in str(e.after) and "bm_" not in str(e.after) for e in _all(session, "hewan_agent_b"))
        assert system.verify(session) == []


def _all(session, subject: str) -> list[SystemEvent]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(SystemEvent).where(SystemEvent.subject == subject).order_by(SystemEvent.seq)))


def test_a_post_without_b_is_marked_away_only_with_a_substitute_who_then_works_its_tasks(services: Services) -> None:
    case = start(services, agent="dongpo_agent")
    task = next(t for t in open_tasks(services, case.id))
    with services.db.read() as session:
        holders = list(session.scalars(select(User).where(User.role_code == task.role_code,
                                                          User.org_id == task.org_id)))
    assert len(holders) == 1, "the first 低保 step's post has one holder in the demo county"
    holder = holders[0]
    substitute = "hongyan_committee" if holder.username != "hongyan_committee" else "liulin_committee"
    _refused(services, ValidationFailed, "须指定代岗人员", lambda s: accounts.set_away(s, holder.username, True))
    _refused(services, ValidationFailed, "不能指定本人", lambda s: accounts.set_away(
        s, holder.username, True, substitute=holder.username))
    _refused(services, NotFound, "不存在", lambda s: accounts.set_away(s, holder.username, True, substitute="nobody"))
    with services.db.read() as session:
        assert not session.get(User, holder.id).away

    services.cases.claim(holder.id, task.id)
    with services.db.write() as session:
        accounts.set_away(session, holder.username, True, substitute=substitute, by=_admin(session))
    sub_id = user_id(services, substitute)
    with services.db.read() as session:
        stand_in = session.get(User, sub_id)
        assert stand_in.covers == {(task.role_code, task.org_id)}
        assert access.task_access(stand_in, session.get(Task, task.id)).standing == access.Standing.COVERING
        covered = inbox.tasks(session, stand_in, "cover", limit=10, narrow=inbox.Narrow(case.case_number))
        assert [row.id for row in covered if row.id == task.id] == [task.id]
    services.cases.claim(sub_id, task.id)  # takes over the away holder's claim
    with services.db.write() as session:
        accounts.set_away(session, holder.username, False, by=_admin(session))
    with services.db.read() as session:
        back = session.get(Task, task.id)
        assert back.assignee_id is None, "what the substitute had not finished returns to the post"
        assert session.get(User, sub_id).covers == frozenset()
        away, returned = _events(session, "post_away", holder.username)[-1], _events(session, "post_back",
                                                                                     holder.username)[-1]
        assert away.before == {"away": False, "substitute": None}
        assert away.after == {"away": True, "substitute": substitute}
        assert returned.after == {"away": False, "substitute": None}
        assert system.verify(session) == []
    with pytest.raises(BianminError):
        services.cases.claim(sub_id, task.id)  # no longer the substitute: not their post


def test_a_post_with_a_b_holder_needs_no_substitute(services: Services) -> None:
    with services.db.write() as session:
        accounts.set_away(session, "qingshui_civil", True, by=_admin(session))
        assert session.scalar(select(User.substitute_id).where(User.username == "qingshui_civil")) is None
        accounts.set_away(session, "qingshui_civil", False, by=_admin(session))


def test_only_administrators_manage_people(services: Services) -> None:
    with services.db.read() as session:
        users = {u.username: u for u in session.scalars(select(User))}
    assert access.may_manage_people(users["admin"])
    assert not any(access.may_manage_people(users[name]) for name in
                   ("dongpo_agent", "qingshui_leader", "supervisor", "auditor", "county_civil"))


def test_the_cli_writes_the_same_events(tmp_path: Path) -> None:
    svc = make_services("sqlite", tmp_path, "bianmin_people_cli")
    runner = CliRunner()
    env = {"BIANMIN_DATABASE_URL": svc.db.url}
    result = runner.invoke(main, ["org", "add", "510123102203", "石桥镇青杠坡村", "--parent", "510123102000"], env=env)
    assert result.exit_code == 0, result.output
    refused = runner.invoke(main, ["org", "add", "510123102204", "村下村", "--parent", "510123102203"], env=env)
    assert refused.exit_code == 1 and "不能再设下级单位" in refused.output
    refused = runner.invoke(main, ["post", "away", "liulin_agent"], env=env)
    assert refused.exit_code == 1 and "须指定代岗人员" in refused.output
    result = runner.invoke(main, ["post", "away", "liulin_agent", "--substitute", "liulin_committee"], env=env)
    assert result.exit_code == 0 and "代岗人员 liulin_committee" in result.output
    result = runner.invoke(main, ["role", "add", "village_grid", "网格员", "--level", "village"], env=env)
    assert result.exit_code == 0, result.output
    tree = runner.invoke(main, ["org", "list"], env=env).output
    assert "    510123102203\tvillage\t石桥镇青杠坡村" in tree
    with svc.db.read() as session:
        kinds = [(e.kind, e.subject, e.actor_name) for e in session.scalars(
            select(SystemEvent).where(SystemEvent.kind.in_(["org_added", "post_away", "role_added"])))]
        assert kinds == [("org_added", "510123102203", "系统"), ("post_away", "liulin_agent", "系统"),
                         ("role_added", "village_grid", "系统")]
        assert session.scalar(select(OrgUnit.level).where(OrgUnit.code == "510123102203")) == "village"
        assert system.verify(session) == []
    svc.db.dispose()
