"""The whole system on the record: deployments, calendar loads, privileged sign-ins and schema upgrades."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import setup
from engine.audit import system
from engine.config import ROOT
from engine.errors import Unauthorized
from engine.models import SystemEvent, User
from engine.people import accounts, signin
from engine.procedures import drafts
from engine.procedures.deploy import current_version_id
from engine.services import Services, open_services
from tests.conftest import make_services
from tests.test_calendar_provisional import NOTICE_2027
from tests.test_webui import PASSWORD, login, post, text
from webui import create_app
from webui.cli import main

COUNTY = "510123"
LIMIT = 2 * 1024 * 1024


def events(svc: Services, kind: str, subject: str | None = None) -> list[SystemEvent]:
    with svc.db.read() as session:
        query = select(SystemEvent).where(SystemEvent.kind == kind).order_by(SystemEvent.seq)
        if subject is not None:
            query = query.where(SystemEvent.subject == subject)
        return list(session.scalars(query))


def last_seq(svc: Services) -> int:
    with svc.db.read() as session:
        return session.scalar(select(SystemEvent.seq).order_by(SystemEvent.seq.desc()).limit(1)) or 0


def since(svc: Services, seq: int) -> list[SystemEvent]:
    with svc.db.read() as session:
        return list(session.scalars(select(SystemEvent).where(SystemEvent.seq > seq).order_by(SystemEvent.seq)))


def cli(svc: Services, *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env={"BIANMIN_DATABASE_URL": svc.db.url})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """A county of its own: these tests enter holiday years and deploy versions others should not see."""
    svc = make_services("sqlite", tmp_path_factory.mktemp("record"), "bianmin_record")
    yield svc
    svc.db.dispose()


@pytest.fixture(scope="module")
def app(fresh: Services) -> Flask:
    return create_app(services=fresh, config={"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def dibao_changed(parent: Path, days: int) -> Path:
    folder = parent / f"dibao-{days}"
    shutil.copytree(ROOT / "bpmn" / "dibao", folder)
    guide = folder / "item.toml"
    guide.write_text(guide.read_text("utf-8").replace("promised_days = 30", f"promised_days = {days}"), "utf-8")
    return folder


def test_a_fresh_database_records_its_schema_upgrade(fresh: Services) -> None:
    (first,) = events(fresh, "migration_applied")
    assert first.seq == 1 and first.actor_name == "系统"
    assert first.before == {"revision": None} and first.after == {"revision": setup.head_revision()}


def test_upgrading_an_older_schema_records_from_and_to(tmp_path: Path) -> None:
    svc = open_services(f"sqlite:///{tmp_path / 'old.db'}")
    with svc.db.engine.begin() as connection:
        setup.upgrade(connection, "0014")
    setup.init(svc.db)
    setup.init(svc.db)  # nothing to upgrade the second time: nothing recorded
    (upgrade,) = events(svc, "migration_applied")
    head = setup.head_revision()
    assert upgrade.subject == f"0014 → {head}"
    assert (upgrade.before, upgrade.after) == ({"revision": "0014"}, {"revision": head})
    with svc.db.read() as session:
        assert system.verify(session) == []
    svc.db.dispose()


def test_each_deployment_is_recorded_once_from_the_cli_and_the_api(fresh: Services, tmp_path: Path,
                                                                  client: FlaskClient) -> None:
    before = last_seq(fresh)
    output = cli(fresh, "deploy", str(dibao_changed(tmp_path, 28)))
    assert "MZ-DIBAO v2（新版本）" in output
    cli(fresh, "deploy", str(dibao_changed(tmp_path / "again", 28)))  # unchanged: no new version, no event
    (deployed,) = since(fresh, before)
    assert (deployed.kind, deployed.subject, deployed.actor_name) == ("procedure_deployed", "MZ-DIBAO v2", "系统")
    assert deployed.before == {"version": 1}
    assert deployed.after is not None and deployed.after["deployed_by"] == "cli" and deployed.after["version"] == 2
    assert deployed.after["name"] == "农村居民最低生活保障" and len(deployed.after["checksum"]) == 64

    folder = dibao_changed(tmp_path / "api", 27)
    files = [(io.BytesIO(path.read_bytes()), str(path.relative_to(folder)))
             for path in sorted(folder.rglob("*")) if path.is_file()]
    with fresh.db.write() as session:
        token = accounts.create_token(session, "admin")
    response = client.post("/api/v1/procedures", headers={"Authorization": f"Bearer {token}"},
                           data={"files": files}, content_type="multipart/form-data")
    assert response.status_code == 201, response.text
    by_api = events(fresh, "procedure_deployed", "MZ-DIBAO v3")
    assert len(by_api) == 1 and by_api[0].after["deployed_by"] == "admin"  # type: ignore[index]
    assert by_api[0].actor_name == "青山县系统管理员（A岗）"


def test_publishing_a_draft_is_one_event_not_two(fresh: Services) -> None:
    with fresh.db.write() as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None
        draft = drafts.create_from_version(session, admin, current_version_id(session, "MZ-TEKUN"), LIMIT)
        guide = draft.files["item.toml"].replace("promised_days = 25", "promised_days = 24")
        drafts.save(session, admin, draft.id, {"item.toml": guide}, LIMIT)
        before = last_seq(fresh)
    with fresh.db.write() as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        done = drafts.publish(session, admin, draft.id, LIMIT)  # type: ignore[arg-type]
    (published,) = since(fresh, before)
    assert published.kind == "procedure_published" and published.subject == f"MZ-TEKUN v{done.version}"


def test_calendar_loads_are_recorded_with_what_changed(fresh: Services, tmp_path: Path, client: FlaskClient) -> None:
    notice = tmp_path / "2027.toml"
    notice.write_text(NOTICE_2027, "utf-8")
    cli(fresh, "calendar", "load", str(notice))
    (loaded,) = events(fresh, "calendar_loaded", "2027")
    assert loaded.before is None and loaded.actor_name == "系统"
    assert loaded.after is not None and "2027-02-05" in loaded.after["holidays"]
    assert loaded.after["workdays"] == ["2027-02-14", "2027-02-20", "2027-04-25"]

    login(client, "admin")
    corrected = NOTICE_2027.replace('["2027-04-25", "劳动节调休上班"]', '["2027-05-08", "劳动节调休上班"]')
    response = post(client, "/calendar", {"notice_text": corrected, "action": "enter", "replace": "1"})
    assert response.status_code == 302, response.text
    first, second = events(fresh, "calendar_loaded", "2027")
    assert second.actor_name == "青山县系统管理员（A岗）"
    assert second.before is not None and second.before["workdays"] == ["2027-02-14", "2027-02-20", "2027-04-25"]
    assert second.after is not None and second.after["workdays"] == ["2027-02-14", "2027-02-20", "2027-05-08"]


def test_shipped_years_go_in_at_install_without_an_event(fresh: Services) -> None:
    with fresh.db.read() as session:
        subjects = {event.subject for event in session.scalars(select(SystemEvent).where(
            SystemEvent.kind == "calendar_loaded"))}
    assert "2025" not in subjects and "2026" not in subjects


@pytest.mark.parametrize("role", ["auditor", "supervisor", "admin"])
def test_privileged_sign_ins_are_recorded_with_the_address(fresh: Services, role: str) -> None:
    username = f"record_{role}"
    with fresh.db.write() as session:
        accounts.add_user(session, username, role, COUNTY, password=PASSWORD)
    signin.sign_in(fresh.db, username, PASSWORD, "192.0.2.41")
    (signed,) = events(fresh, "privileged_login", username)
    assert signed.after == {"address": "192.0.2.41", "role": role, "via": "login"}
    assert signed.actor_id is not None


def test_a_failed_privileged_sign_in_is_recorded_without_the_password(fresh: Services) -> None:
    guess = "guessed-Secret-4711"
    with fresh.db.write() as session:
        accounts.add_user(session, "record_audit_b", "auditor", COUNTY, password=PASSWORD)
    with pytest.raises(Unauthorized):
        signin.sign_in(fresh.db, "record_audit_b", guess, "198.51.100.7")
    (failed,) = events(fresh, "privileged_login_failed", "record_audit_b")
    assert failed.actor_id is None and failed.actor_name == "系统"
    assert failed.after == {"address": "198.51.100.7", "role": "auditor", "via": "login", "reason": "wrong_password"}
    with fresh.db.read() as session:
        stored = json.dumps([[e.before, e.after, e.subject] for e in session.scalars(select(SystemEvent))])
    assert guess not in stored
    assert events(fresh, "privileged_login", "record_audit_b") == []


def test_a_clerk_signing_in_is_not_on_the_system_chain(fresh: Services) -> None:
    before = last_seq(fresh)
    signin.sign_in(fresh.db, "dongpo_agent", PASSWORD, "192.0.2.42")
    with pytest.raises(Unauthorized):
        signin.sign_in(fresh.db, "dongpo_agent", "wrong-password-1", "192.0.2.42")
    assert since(fresh, before) == []


def test_the_events_page_labels_and_filters_the_new_kinds(fresh: Services, client: FlaskClient) -> None:
    login(client, "admin")
    page = text(client.get("/people/events"))
    for label in ("部署流程", "录入节假日", "特权账号登录", "特权账号登录失败", "数据库升级"):
        assert label in page
    only = client.get("/people/events?kind=privileged_login")
    rows = only.get_data(as_text=True).count('data-kind="privileged_login"')
    assert rows == len(events(fresh, "privileged_login")) and rows >= 1
    assert 'data-kind="procedure_deployed"' not in only.get_data(as_text=True)
