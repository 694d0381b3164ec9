"""Bad input gets a clear 4xx and changes nothing: unstorable text, huge ids, deep JSON, a busy database, symlinks."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text

from engine.config import ROOT
from engine.db import Database
from engine.errors import Busy, DeployRefused, Unavailable
from engine.models import Case, ServiceItem
from engine.procedures.deploy import deploy_folders
from engine.services import Services, open_services
from tests.conftest import make_services, pg_available
from tests.procedures import applicant, fill
from tests.test_api import DONGPO, auth, counts, form_data, item, make_client, start_dibao
from tests.test_webui import login, post
from webui import create_app
from webui.cli import main
from webui.formrender import parse

LONE_SURROGATE = "\ud800"


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return make_client(services)


@pytest.fixture
def sqlite_client(sqlite_services: Services) -> FlaskClient:
    return make_client(sqlite_services)


def raw_json(client: FlaskClient, svc: Services, url: str, body: str, username: str = "dongpo_agent") -> object:
    """POST `body` as sent: a test client would refuse to encode a lone surrogate itself, a hostile client does not."""
    return client.post(url, headers={**auth(svc, username), "Content-Type": "application/json"},
                       data=body.encode("utf-8"))


def good_application(client: FlaskClient, svc: Services) -> dict:
    return {"item_code": "MZ-DIBAO", "village_code": DONGPO, "applicant": applicant(DONGPO),
            "data": fill(item(client, svc, "MZ-DIBAO")["application_schema"])}


# -- text that cannot be stored ----------------------------------------------------------------------


def test_unstorable_text_through_the_api_is_refused_and_changes_nothing(client: FlaskClient,
                                                                        services: Services) -> None:
    good = good_application(client, services)
    case = start_dibao(client, services)
    [task] = case["tasks"]
    step = form_data(client, services, "dongpo_committee", task["id"])
    before = counts(services)
    bad_name = {**good, "applicant": {**good["applicant"], "name": f"王{LONE_SURROGATE}五"}}
    nul_name = {**good, "applicant": {**good["applicant"], "name": "王\x00五"}}
    bad_field = {**good, "data": {**good["data"], "reason": f"家中老人重病{LONE_SURROGATE}无劳动能力"}}
    bad_key = {**good, "data": {**good["data"], f"x{LONE_SURROGATE}": 1}}
    for body, where in ((bad_name, "applicant.name"), (nul_name, "applicant.name"), (bad_field, "data.reason"),
                        (bad_key, "data")):
        # json.dumps escapes the surrogate as \ud800, which is how it arrives in a real request.
        response = raw_json(client, services, "/api/v1/cases", json.dumps(body))
        assert response.status_code == 400, response.json
        assert where in response.json["error"] and "请删除后重新提交" in response.json["error"]
    for data in ({**step, "comment": f"同意{LONE_SURROGATE}"}, {**step, "comment": "同意\x00"}):
        response = raw_json(client, services, f"/api/v1/tasks/{task['id']}/complete", json.dumps({"data": data}),
                            "dongpo_committee")
        assert response.status_code == 400 and "data.comment" in response.json["error"]
    assert counts(services) == before


def test_nul_in_the_web_form_is_refused_and_changes_nothing(services: Services) -> None:
    client = create_app(services, {"TESTING": True}).test_client()
    login(client, "dongpo_agent")
    before = counts(services)
    person = applicant(DONGPO)
    fields = {"item": "MZ-DIBAO", "applicant_name": "王\x00五", "applicant_id_number": person["id_number"],
              "applicant_phone": person["phone"], "f-household_size": "3", "f-annual_income_per_capita": "2400",
              "f-has_disabled_member": "true", "f-has_seriously_ill_member": "false",
              "f-reason": "家中老人重病，无劳动能力，收入低"}
    response = post(client, "/cases/new", fields)
    assert response.status_code == 400
    assert "表单字段 applicant_name 含有空字符（U+0000），请删除后重新提交" in response.get_data(as_text=True)
    response = post(client, "/cases/new", {**fields, "applicant_name": person["name"], "f-reason": "理由\x00很充分的"})
    assert response.status_code == 400 and "f-reason" in response.get_data(as_text=True)
    assert client.get("/ledger?q=%00").status_code == 400
    assert counts(services) == before


def test_a_json_field_of_a_form_is_read_as_strictly_as_an_api_body() -> None:
    schema = {"properties": {"members": {"type": "array", "title": "家庭成员"}}}
    for posted, expected in (('["\\ud800"]', "孤立的代理码位"), ("[" * 40 + "]" * 40, "嵌套过深"),
                             ("[NaN]", "NaN"), ("[1,", "不是合法的 JSON")):
        data, problems = parse(schema, {"f-members": posted})
        assert data == {} and expected in problems["members"][0], posted
    assert parse(schema, {"f-members": '[{"name": "王五"}]'}) == ({"members": [{"name": "王五"}]}, {})


def test_a_nameless_or_unstorable_multipart_part_is_not_a_server_error(sqlite_client: FlaskClient,
                                                                       sqlite_services: Services) -> None:
    boundary = "b0undary"
    for name in ("", "%00"):
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\nnull\r\n'
                f"--{boundary}--\r\n").encode()
        response = sqlite_client.post("/api/v1/procedures", data=body, headers={
            **auth(sqlite_services, "admin"), "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert 400 <= response.status_code < 500 and response.json["error"], name


# -- ids no table holds, JSON no form needs ------------------------------------------------------------


def test_ids_beyond_any_row_are_not_found(client: FlaskClient, services: Services) -> None:
    headers = auth(services, "dongpo_agent")
    web = create_app(services, {"TESTING": True}).test_client()
    login(web, "dongpo_agent")
    for case_id in (2**31, 2**63, 2**64 + 1):
        for url in (f"/api/v1/cases/{case_id}", f"/api/v1/cases/{case_id}/events"):
            response = client.get(url, headers=headers)
            assert response.status_code == 404 and response.json["error"], url
        assert web.get(f"/cases/{case_id}").status_code == 404
        assert web.get(f"/cases/{case_id}/diagram.bpmn").status_code == 404


def test_json_nested_too_deep_or_not_a_number_is_refused(sqlite_client: FlaskClient,
                                                           sqlite_services: Services) -> None:
    client, svc = sqlite_client, sqlite_services
    before = counts(svc)
    good = good_application(client, svc)
    deep_array = "[" * 100_000 + "]" * 100_000
    deep_object = '{"a":' * 100_000 + "1" + "}" * 100_000
    nested_data = json.dumps({**good, "data": {**good["data"], "extra": json.loads("[" * 40 + "]" * 40)}})
    for body in (deep_array, deep_object, nested_data):
        response = raw_json(client, svc, "/api/v1/cases", body)
        assert response.status_code == 400 and "嵌套过深" in response.json["error"]
    for constant in ("NaN", "Infinity", "-Infinity"):
        body = json.dumps({**good, "data": {**good["data"], "household_size": float(constant)}})
        response = raw_json(client, svc, "/api/v1/cases", body)
        assert response.status_code == 400 and constant in response.json["error"]
    assert counts(svc) == before


def test_a_wrong_method_answer_says_which_are_allowed(sqlite_client: FlaskClient, sqlite_services: Services) -> None:
    response = sqlite_client.delete("/api/v1/cases", headers=auth(sqlite_services, "dongpo_agent"))
    assert response.status_code == 405 and set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert sqlite_client.put("/login").headers["Allow"]


# -- a busy database ----------------------------------------------------------------------------------


def busy_services(monkeypatch: pytest.MonkeyPatch, url: str) -> Services:
    monkeypatch.setenv("BIANMIN_LOCK_TIMEOUT", "1")
    return open_services(url)


@contextmanager
def holding_the_case(svc: Services, case_id: int) -> Iterator[None]:
    """Another process in the middle of a long change: SQLite's write lock, or PostgreSQL's lock on the case row."""
    if svc.db.is_sqlite:
        connection = sqlite3.connect(svc.db.url.removeprefix("sqlite:///"), isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    holder = create_engine(svc.db.url)
    try:
        with holder.connect() as locked:
            locked.execute(text("SELECT id FROM case_record WHERE id = :id FOR UPDATE"), {"id": case_id})
            yield
            locked.rollback()
    finally:
        holder.dispose()


def test_a_lock_held_too_long_answers_503_with_retry_after(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(services)
    case = start_dibao(client, services)
    [task] = case["tasks"]
    data = form_data(client, services, "dongpo_committee", task["id"])
    impatient = busy_services(monkeypatch, services.db.url)
    busy_client = make_client(impatient)
    with holding_the_case(services, case["id"]):
        started = time.monotonic()
        response = busy_client.post(f"/api/v1/tasks/{task['id']}/complete",
                                    headers=auth(impatient, "dongpo_committee"), json={"data": data})
        waited = time.monotonic() - started
    impatient.db.dispose()
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "系统繁忙" in response.json["error"] and "重试" in response.json["error"]
    assert waited < 20  # a 1 s lock timeout, with room for a loaded machine; the old wait was 40 s
    again = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=auth(services, "dongpo_committee"),
                        json={"data": data})
    assert again.status_code == 200, again.json  # nothing was half done


def test_a_lost_database_connection_answers_503_and_the_next_request_reconnects(services: Services) -> None:
    if services.db.is_sqlite:
        pytest.skip("SQLite has no server connection to lose")
    client = make_client(services)
    headers = auth(services, "dongpo_agent")
    assert client.get("/api/v1/tasks", headers=headers).status_code == 200
    # What a PostgreSQL restart does to every open connection: the server ends them.
    killer = create_engine(services.db.url, isolation_level="AUTOCOMMIT")
    with killer.connect() as conn:
        ended = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    killer.dispose()
    assert ended >= 1
    response = client.get("/api/v1/tasks", headers=headers)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "数据库暂时无法连接" in response.json["error"]
    assert client.get("/api/v1/tasks", headers=headers).status_code == 200


def test_a_refused_connection_is_unavailable_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    if not pg_available():
        pytest.skip("PostgreSQL not reachable")
    # Port 9 (discard) has no PostgreSQL behind it: the connect is refused as during a restart.
    nowhere = Database("postgresql+psycopg://postgres@127.0.0.1:9/test")
    with pytest.raises(Unavailable) as refused, nowhere.read() as session:
        session.execute(text("SELECT 1"))
    nowhere.dispose()
    assert refused.value.status == 503 and "数据库暂时无法连接" in refused.value.message


def test_postgresql_sessions_carry_the_timeouts(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    if services.db.is_sqlite:
        pytest.skip("SQLite has no lock or statement timeout settings")
    with services.db.read() as session:
        assert session.scalar(text("SHOW lock_timeout")) == "10s"
        assert session.scalar(text("SHOW statement_timeout")) == "30s"
    monkeypatch.setenv("BIANMIN_STATEMENT_TIMEOUT", "0")
    other = busy_services(monkeypatch, services.db.url)
    try:
        with other.db.read() as session:
            assert session.scalar(text("SHOW lock_timeout")) == "1s"
            assert session.scalar(text("SHOW statement_timeout")) == "0"
    finally:
        other.db.dispose()


def test_sqlite_database_is_locked_is_busy_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = make_services("sqlite", tmp_path, "locked")
    impatient = busy_services(monkeypatch, svc.db.url)
    with pytest.raises(Busy) as refused, holding_the_case(svc, 0), impatient.db.write() as session:
        session.execute(select(Case.id))
    impatient.db.dispose()
    svc.db.dispose()
    assert refused.value.status == 503 and refused.value.headers == {"Retry-After": "5"}


# -- procedure folders ----------------------------------------------------------------------------------


def test_deploy_refuses_a_symlink_in_a_procedure_folder(tmp_path: Path) -> None:
    svc = make_services("sqlite", tmp_path, "links")
    secret = tmp_path / "elsewhere" / "secret.schema.json"
    secret.parent.mkdir()
    secret.write_text(json.dumps({"type": "object", "title": "服务器上的其他文件"}), "utf-8")
    folder = tmp_path / "dibao"
    shutil.copytree(ROOT / "bpmn" / "dibao", folder)
    item_toml = folder / "item.toml"
    item_toml.write_text(item_toml.read_text("utf-8").replace('code = "MZ-DIBAO"', 'code = "LINK-DIBAO"'), "utf-8")
    (folder / "forms" / "secret.schema.json").symlink_to(secret)
    with pytest.raises(DeployRefused) as refused, svc.db.write() as session:
        deploy_folders(session, [folder], svc.settings.max_diagram_bytes)
    [problem] = refused.value.problems
    assert problem.file == "dibao/forms/secret.schema.json" and "符号链接" in problem.message

    result = CliRunner().invoke(main, ["deploy", str(folder)], env={"BIANMIN_DATABASE_URL": svc.db.url})
    assert result.exit_code == 1 and "dibao/forms/secret.schema.json：是符号链接，不予部署" in result.output
    with svc.db.read() as session:
        assert session.get(ServiceItem, "LINK-DIBAO") is None
    svc.db.dispose()


def test_procedure_files_with_unstorable_text_are_refused(tmp_path: Path) -> None:
    svc = make_services("sqlite", tmp_path, "unstorable")
    folder = tmp_path / "dibao"
    shutil.copytree(ROOT / "bpmn" / "dibao", folder)
    form = folder / "forms" / "application.schema.json"
    form.write_text(form.read_text("utf-8").replace('"家庭人口"', '"家庭\\ud800人口"'), "utf-8")
    with pytest.raises(DeployRefused) as refused, svc.db.write() as session:
        deploy_folders(session, [folder], svc.settings.max_diagram_bytes)
    assert any(problem.file == "dibao/forms/application.schema.json" and "孤立的代理码位" in problem.message
               for problem in refused.value.problems)
    svc.db.dispose()
