"""The 接口机密 page through Flask's test client: an administrator enters a secret, which is then listed by name (who,
when, where it is used) and never appears again in a page, a redirect, an event or a log; others are refused;
without BIANMIN_SECRETS_KEY the page says how to set it and stores nothing."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import secrets
from engine.models import SystemEvent
from engine.models.outbox import Secret
from engine.outbox import outbound
from engine.procedures.deploy import deploy_folders
from engine.services import Services
from tests.procedures import dibao_with_service
from tests.test_webui import login, post, text, text_of
from webui import create_app

KEY = Fernet.generate_key().decode()
TOKEN_ITEM = "MZ-DIBAO-TOKEN"
# The name the population service's token goes under in the diagram deployed here.
TOKEN_SECRET = "population_api_token"


def keyed(svc: Services, key: str | None = KEY) -> Services:
    """The same database and runtime, as a process started with (or without) BIANMIN_SECRETS_KEY."""
    return dataclasses.replace(svc, settings=dataclasses.replace(svc.settings, secrets_key=key))


def client_of(svc: Services, username: str) -> FlaskClient:
    client = create_app(services=svc, config={"TESTING": True}).test_client()
    login(client, username)
    return client


def stored(svc: Services, name: str) -> str | None:
    with svc.db.read() as session:
        if name not in secrets.names(session):
            return None
        return secrets.reader(session, keyed(svc).settings).get(name)


DEPLOYED: set[str] = set()


def deploy_token_lookup(svc: Services, tmp: Path) -> None:
    """低保 with a 人口库核验 service task whose bearer token is the secret TOKEN_SECRET."""
    if svc.db.url in DEPLOYED:
        return
    folder = dibao_with_service(tmp, TOKEN_ITEM, "Flow_start", "population_lookup", "人口库核验", "http/json", {
        "url": "'https://rkk.qingshan.gov.cn/api/household'", "bearer_secret": f"'{TOKEN_SECRET}'",
        "body": "{'case_number': case_number}"}, "household")
    with svc.db.write() as session:
        deploy_folders(session, [folder], svc.settings.max_diagram_bytes)
    DEPLOYED.add(svc.db.url)


@contextmanager
def sending(svc: Services, sms_key: str, mail_password: str, report_key: str | None = None) -> Iterator[None]:
    """The process configured with an SMS gateway, a mail server and (given `report_key`) the upstream platform's
    case report, whose keys are the secrets named here; no case may be started inside (the report has no codes)."""
    configured = svc.db.session_info[outbound.SESSION_KEY]
    svc.db.session_info[outbound.SESSION_KEY] = dataclasses.replace(
        configured, sms_gateway_url="https://sms.qingshan.gov.cn/api/send", sms_key_secret=sms_key,
        mail=outbound.MailServer("mail.qingshan.gov.cn", 587, "bianmin@qingshan.gov.cn", "require",
                                 "bianmin", mail_password),
        case_report_url="https://zwfw.sc.gov.cn/api/case-report" if report_key else None,
        case_report_key_secret=report_key)
    try:
        yield
    finally:
        svc.db.session_info[outbound.SESSION_KEY] = configured


def test_an_administrator_enters_a_secret_that_is_never_shown_again(
        services: Services, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # Every statement and its parameters logged too: the value must not be among them either.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    name, value = "sms_gateway_key_web", "sk_live_短信-5Qm8xR2vT9wL4nB7"
    svc = keyed(services)
    admin = client_of(svc, "admin")
    responses: list[Any] = [admin.get("/secrets")]
    assert responses[0].status_code == 200 and "secrets-key-problem" not in responses[0].get_data(as_text=True)
    assert 'type="password"' in responses[0].get_data(as_text=True)
    saved = post(admin, "/secrets", {"name": name, "value": value})
    responses.append(saved)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/secrets")
    assert value not in saved.headers["Location"]
    shown = admin.get("/secrets")
    responses.append(shown)
    assert f"已加密保存机密“{name}”" in text(shown) and shown.headers["Cache-Control"] == "no-store"
    row = shown.get_data(as_text=True).split(f'data-secret="{name}"')[1].split("</tr>")[0]
    assert "系统管理员" in text(shown) and "2026-03-02" in row
    assert stored(services, name) == value
    # Replaced under the same name: still one row, the new value stored.
    responses.append(post(admin, "/secrets", {"name": name, "value": value + "-2"}, follow_redirects=True))
    assert stored(services, name) == value + "-2"
    # A bad name is refused in Chinese, the name kept in the form for correction, the value not.
    refused = post(admin, "/secrets", {"name": "短信 key", "value": value})
    responses.append(refused)
    assert refused.status_code == 422 and "机密名称只能由英文字母、数字和 _ - . 组成" in text(refused)
    assert 'value="短信 key"' in refused.get_data(as_text=True) and stored(services, "短信 key") is None
    with services.db.read() as session:
        ciphertext = session.scalar(select(Secret.ciphertext).where(Secret.name == name))
        recorded = list(session.scalars(select(SystemEvent).where(SystemEvent.kind == "secret_set",
                                                                  SystemEvent.subject == name)))
        every_event = [json.dumps([e.subject, e.before, e.after], ensure_ascii=False)
                       for e in session.scalars(select(SystemEvent))]
    assert len(recorded) == 2 and all(e.actor_name for e in recorded)
    for response in responses:
        body = response.get_data(as_text=True)
        assert value not in body and ciphertext not in body
    assert not [event for event in every_event if value in event]
    logged = [record.getMessage() for record in caplog.records]
    assert any("INSERT INTO secret" in message for message in logged)
    assert not [message for message in logged if value in message] and value not in caplog.text


def test_the_list_names_where_each_secret_is_used(services: Services, tmp_path: Path) -> None:
    deploy_token_lookup(services, tmp_path)
    svc = keyed(services)
    svc = dataclasses.replace(svc, settings=dataclasses.replace(
        svc.settings, population_url="https://rkk.qingshan.gov.cn/api/lookup",
        population_key_secret="population_key_county"))
    with sending(services, "sms_gateway_key_county", "smtp_password_county", "case_report_token_county"):
        page = client_of(svc, "admin").get("/secrets").get_data(as_text=True)

    def row(name: str) -> str:
        return text_of(page.split(f'data-secret="{name}"')[1].split("</tr>")[0])
    assert "BIANMIN_SMS_KEY_SECRET" in row("sms_gateway_key_county")
    assert "BIANMIN_SMTP_PASSWORD_SECRET" in row("smtp_password_county")
    assert "BIANMIN_CASE_REPORT_KEY_SECRET" in row("case_report_token_county")
    assert TOKEN_ITEM in row(TOKEN_SECRET) and "人口库核验" in row(TOKEN_SECRET)
    # Named but never entered: every call that needs it fails until an administrator enters it …
    assert "尚未录入 调用会失败，直至录入" in row("sms_gateway_key_county")
    # … except the population look-up's key, which it goes without until one is entered.
    assert "BIANMIN_POPULATION_KEY_SECRET" in row("population_key_county")
    assert "尚未录入 未录入时调用不带密钥" in row("population_key_county")


def test_only_administrators_reach_the_page(services: Services) -> None:
    svc = keyed(services)
    clerk = client_of(svc, "dongpo_agent")
    assert 'id="nav-secrets"' not in clerk.get("/inbox").get_data(as_text=True)
    assert clerk.get("/secrets").status_code == 403
    refused = post(clerk, "/secrets", {"name": "clerk_made_up", "value": "x-9"})
    assert refused.status_code == 403 and "只有系统管理员" in text(refused)
    assert stored(services, "clerk_made_up") is None
    assert 'id="nav-secrets"' in client_of(svc, "admin").get("/inbox").get_data(as_text=True)


def test_without_a_key_the_page_says_how_to_set_one_and_stores_nothing(services: Services) -> None:
    admin = client_of(keyed(services, None), "admin")
    page = admin.get("/secrets")
    shown = text(page)
    assert "未配置机密加密密钥 BIANMIN_SECRETS_KEY" in shown and "Fernet.generate_key()" in shown
    assert "<fieldset class=\"plain\" disabled>" in page.get_data(as_text=True)
    refused = post(admin, "/secrets", {"name": "unkeyed_web", "value": "pw-unkeyed-4471"})
    assert refused.status_code == 503 and "未配置机密加密密钥" in text(refused)
    assert "pw-unkeyed-4471" not in refused.get_data(as_text=True)
    assert stored(services, "unkeyed_web") is None
    malformed = client_of(keyed(services, "not-a-fernet-key"), "admin").get("/secrets")
    assert "BIANMIN_SECRETS_KEY 格式不正确" in text(malformed) and "not-a-fernet-key" not in text(malformed)
