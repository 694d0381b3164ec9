"""The modeler's server side: diagrams from other modelers keep their extensions and are named in the check, code is
checked as the deploy check does while it is typed, and only administrators reach any of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import clock
from engine.errors import DeployRefused, Severity
from engine.models import ProcedureDraft, ProcedureVersion
from engine.procedures import checks
from engine.procedures.bundle import read_files
from engine.procedures.deploy import deploy, known_roles
from engine.services import Services
from tests.conftest import ROOT, make_services, user_id
from webui import create_app, modeler

ZHAIJIDI = ROOT / "bpmn" / "zhaijidi"
FOREIGN = ('xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
           'xmlns:modeler="http://camunda.org/schema/modeler/1.0" modeler:executionPlatform="Camunda Platform" ')


def folder_files(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def from_camunda_modeler(code: str = "ZJD-CAMUNDA") -> dict[str, bytes]:
    """宅基地 as Camunda Modeler would save it after someone set an assignee, a form key and a job worker there."""
    files = folder_files(ZHAIJIDI)
    xml = files["process.bpmn"].decode("utf-8")
    xml = xml.replace("<bpmn:definitions ", f"<bpmn:definitions {FOREIGN}", 1)
    xml = xml.replace('<bpmn:userTask id="village_review" name="村级审查">',
                      '<bpmn:userTask id="village_review" name="村级审查" camunda:assignee="${村委会主任}" '
                      'camunda:formKey="embedded:app:forms/village.html">', 1)
    xml = xml.replace("<spiffworkflow:instructionsForEndUser>村民小组",
                      '<zeebe:taskDefinition type="village-review" retries="3" />'
                      "<spiffworkflow:instructionsForEndUser>村民小组", 1)
    files["process.bpmn"] = xml.encode("utf-8")
    guide = files["item.toml"].decode("utf-8")
    files["item.toml"] = guide.replace('code = "ZR-ZHAIJIDI"', f'code = "{code}"', 1).encode("utf-8")
    return files


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def own(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """A database of its own: these tests add an item and drafts other modules' tests should not see."""
    svc = make_services(request.param, tmp_path_factory.mktemp("modeler"), "bianmin_modeler")
    yield svc
    svc.db.dispose()


def test_camunda_extensions_are_kept_and_named_as_unsupported(own: Services) -> None:
    files = from_camunda_modeler()
    assert b'code = "ZJD-CAMUNDA"' in files["item.toml"]
    with own.db.write() as session:
        bundle = read_files("宅基地", files, known_roles(session), own.settings.max_diagram_bytes)
        deployed = deploy(session, bundle, "admin")
    named = {(problem.element_id, problem.message.split("”")[0].split("“")[1]) for problem in bundle.warnings}
    assert named == {("village_review", "camunda:assignee"), ("village_review", "camunda:formKey"),
                     ("village_review", "zeebe:taskDefinition")}
    assert all(problem.severity == Severity.WARNING and "便民不支持" in problem.message for problem in bundle.warnings)
    # Camunda Modeler's own note of who wrote the file changes nothing when run: no warning for it.
    assert not any("executionPlatform" in problem.message for problem in bundle.warnings)
    with own.db.read() as session:
        stored = session.scalars(select(ProcedureVersion).where(ProcedureVersion.item_code == deployed.item_code)).one()
        # What the engine does not run is stored as sent, so opening and saving again keeps it.
        assert stored.bpmn_xml == files["process.bpmn"].decode("utf-8")


def test_an_unknown_role_is_marked_on_its_lane() -> None:
    files = folder_files(ZHAIJIDI)
    files["process.bpmn"] = files["process.bpmn"].replace(b'name="town_land"', b'name="town_surveyor"')
    roles = {"village_agent", "village_committee", "town_window", "town_agriculture", "town_land", "town_planning",
             "town_leader", "county_natural_resources"}
    with pytest.raises(DeployRefused) as refused:
        read_files("宅基地", files, roles, 10_000_000)
    [problem] = refused.value.problems
    assert (problem.element_id, problem.element_name) == ("Lane_town_land", "town_surveyor")
    assert "不是已知的角色代码" in problem.message


@pytest.mark.parametrize(("kind", "mode", "source", "timer", "expected"), [
    ("脚本", "exec", "import os\nos.remove('x')", "", (True, "import")),
    ("脚本", "exec", "total = income * 12", "", (False, None)),
    ("条件表达式", "eval", 'decision == "approve"', "", (False, None)),
    ("条件表达式", "eval", "decision ==", "", (True, "语法")),
    (checks.TIMER, "eval", '"P7X"', "timeDuration", (False, "不是有效的 ISO 8601")),
    (checks.TIMER, "eval", '"P7D"', "timeDuration", (False, None)),
    (checks.TIMER, "eval", "publicity_days", "timeDuration", (False, None)),
])
def test_code_is_checked_as_the_deploy_check_does(kind: str, mode: Any, source: str, timer: str,
                                                  expected: tuple[bool, str | None]) -> None:
    refused, message = checks.code_problem(kind, mode, source, timer)
    assert refused == expected[0]
    assert (message is None) if expected[1] is None else (message is not None and expected[1] in message), message


# -- the web side ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    svc = make_services("sqlite", tmp_path_factory.mktemp("modeler-web"), "bianmin_modeler_web")
    yield create_app(services=svc, config={"TESTING": True})
    svc.db.dispose()


def services_of(app: Flask) -> Services:
    return app.extensions["bianmin"]


def new_draft(svc: Services, name: str = "残疾人证新办（草稿）") -> int:
    admin = user_id(svc, "admin")
    with svc.db.write() as session:
        draft = ProcedureDraft(name=name, files={}, problems=[], created_by_id=admin, created_at=clock.now(),
                               updated_by_id=admin, updated_at=clock.now())
        session.add(draft)
        session.flush()
        return draft.id


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    with client.session_transaction() as session:
        session["csrf_token"] = "test-csrf-token"
    response = client.post("/login", data={"username": username, "password": "bianmin2026",
                                           "csrf_token": "test-csrf-token"})
    assert response.status_code == 302, response.text
    with client.session_transaction() as session:  # signing in starts a new session, with a token of its own
        session["csrf_token"] = "test-csrf-token"
    return client


def check(client: FlaskClient, body: Any, token: str = "test-csrf-token") -> Any:
    return client.post("/modeler/check-code", json=body, headers={"X-CSRF-Token": token})


def test_only_administrators_model(app: Flask) -> None:
    draft_id = new_draft(services_of(app))
    agent = signed_in(app, "dongpo_agent")
    for response in (agent.get(f"/modeler/{draft_id}"), agent.get("/modeler/roles"),
                     check(agent, {"kind": "script", "source": "x = 1"})):
        assert response.status_code == 403
        assert "只有系统管理员" in response.get_data(as_text=True)
    admin = signed_in(app, "admin")
    page = admin.get(f"/modeler/{draft_id}").get_data(as_text=True)
    assert "残疾人证新办（草稿）" in page and f'data-files-url="/procedures/drafts/{draft_id}/files"' in page
    assert admin.get("/modeler/99999").status_code == 404
    roles = admin.get("/modeler/roles").json["roles"]
    assert {"code": "town_civil_affairs", "name": roles[[r["code"] for r in roles].index("town_civil_affairs")]["name"],
            "level": "town"} in roles


def test_page_says_when_the_bundle_is_not_built(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    draft_id = new_draft(services_of(app))
    admin = signed_in(app, "admin")
    monkeypatch.setattr(modeler, "BUNDLE", Path("build") / "not-built.js")
    page = admin.get(f"/modeler/{draft_id}").get_data(as_text=True)
    assert "建模器脚本尚未构建" in page and "make setup" in page and "build/modeler.js\"></script>" not in page


def test_check_code_answers_with_the_deploy_checks_words(app: Flask) -> None:
    admin = signed_in(app, "admin")
    refused = check(admin, {"kind": "script", "source": "import os"})
    assert refused.status_code == 200
    [message] = refused.json["problems"]
    assert message == checks.code_problem("脚本", "exec", "import os")[1]
    assert check(admin, {"kind": "condition", "source": 'decision == "approve"'}).json == {"problems": []}
    [timer] = check(admin, {"kind": "timer", "source": '"P7X"', "timer": "timeDuration"}).json["problems"]
    assert "P7X" in timer
    assert check(admin, {"kind": "timer", "source": '"P7D"', "timer": "sometimes"}).status_code == 400
    assert check(admin, {"kind": "shell", "source": "ls"}).status_code == 400
    assert check(admin, {"kind": "script", "source": "x = 1"}, token="forged").status_code == 400
