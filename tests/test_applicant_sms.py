"""The applicant's SMS at 受理, through the outbox and the SMS connector to a local gateway that records what it got:
the case number and the promised date, once per case, nothing when no gateway is set or the phone is a landline."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine import clock, secrets
from engine.cases.outcomes import Outcome, Window
from engine.models import OutboxMessage
from engine.outbox import deliver, outbound
from engine.procedures.deploy import current_version
from engine.services import Services
from tests.conftest import user_id
from tests.localhttp import Answer, Request, answer_json, serving
from tests.procedures import applicant, fill
from tests.test_browser import DONGPO, base_url, browser, choose_item, log_in, page, shot  # noqa: F401
from tests.test_engine import drive, start
from tests.test_intake import register, reread, ticks
from tests.test_intake_browser import fill_application

KEY = Fernet.generate_key().decode()
API_KEY = "gw-test-key-3c9e"


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[list[dict[str, Any]], str]]:
    received: list[dict[str, Any]] = []

    def answer(request: Request) -> Answer:
        received.append({"body": request.json(), "api_key": request.headers.get("x-api-key")})
        return answer_json(200, {"code": "OK", "message_id": f"m{len(received)}"})

    with serving(answer) as address:
        yield received, f"{address}/sms"


@pytest.fixture
def sms(services: Services, gateway: tuple[list[dict[str, Any]], str]) -> Iterator[list[dict[str, Any]]]:
    """The county's gateway configured on the runtime, its API key stored as a secret, for this test only."""
    received, url = gateway
    settings = replace(services.settings, secrets_key=KEY)
    with services.db.write() as session:
        secrets.store(session, "sms_gateway_key", API_KEY, None, clock.now(), settings=settings)
    received.clear()
    with gateway_configured(services, url):
        yield received


@contextmanager
def gateway_configured(svc: Services, url: str | None, key_secret: str | None = None) -> Iterator[None]:
    """The process's outbound settings with the SMS gateway at `url` (None: no gateway), its key in the secret named
    `key_secret` (None: the configured name), while inside."""
    configured = svc.db.session_info[outbound.SESSION_KEY]
    svc.db.session_info[outbound.SESSION_KEY] = replace(configured, sms_gateway_url=url,
                                                        sms_key_secret=key_secret or configured.sms_key_secret)
    try:
        yield
    finally:
        svc.db.session_info[outbound.SESSION_KEY] = configured


def send(svc: Services) -> None:
    deliver.deliver_due(svc.cases, secrets.reader(svc.db, replace(svc.settings, secrets_key=KEY)), 5.0)


def outbox(svc: Services, case_id: int) -> list[OutboxMessage]:
    with svc.db.read() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)))


def test_the_applicant_is_told_the_case_number_and_promised_date(services: Services,
                                                                 sms: list[dict[str, Any]]) -> None:
    case = start(services, name="长孙春燕")
    [queued] = outbox(services, case.id)
    assert (queued.connector, queued.status, queued.task_id) == ("sms/gateway", "pending", None)
    send(services)
    [got] = sms
    assert got["api_key"] == API_KEY and got["body"]["phone"] == case.applicant_phone
    due = case.promised_date
    assert got["body"]["text"] == (f"【便民服务】您的农村居民最低生活保障申请已受理，办件编号{case.case_number}，"
                                   f"承诺办结日期{due.year}年{due.month}月{due.day}日。可凭办件编号查询办理进度。")
    # Only what the template needs went out.
    assert set(got["body"]) == {"phone", "template", "text", "variables"}
    assert outbox(services, case.id)[0].status == "sent"
    send(services)
    assert len(sms) == 1  # once


def test_told_of_a_supplement_then_of_the_decision(services: Services, sms: list[dict[str, Any]]) -> None:
    person = applicant(DONGPO) | {"name": "呼延春生"}
    case = register(services, Window(ticks("家庭收入证明"), Outcome.SUPPLEMENT), person)
    send(services)
    [notice] = sms
    assert notice["body"]["template"] == "supplement_requested"
    assert notice["body"]["text"] == (
        f"【便民服务】您的农村居民最低生活保障申请（办件编号{case.case_number}）材料不齐全，"
        "需补正的全部材料已一次性书面告知，请按告知书补齐后到东坡村便民服务站提交。")
    services.cases.examine(user_id(services, "dongpo_agent"), case.id, Window(ticks()))
    # Sent before the case moves on: the worker sends what is due side by side, in no fixed order.
    send(services)
    final, _ = drive(services, reread(services, case.id)[0], reject_at="town_review")
    assert final.result == "rejected"
    send(services)
    templates = [got["body"]["template"] for got in sms]
    assert templates == ["supplement_requested", "case_accepted", "case_decided"]
    assert "办理结果：不予批准。请凭受理回执到东坡村便民服务站领取结果文书" in sms[-1]["body"]["text"]


def test_no_sms_to_a_landline_or_without_a_gateway(services: Services, sms: list[dict[str, Any]]) -> None:
    with services.db.read() as session:
        schema = current_version(session, "MZ-DIBAO").forms["application.schema.json"]
    landline = services.cases.start_case(user_id(services, "dongpo_agent"), "MZ-DIBAO", DONGPO,
                                         applicant(DONGPO) | {"name": "公孙建华", "phone": "028-85550211"},
                                         fill(schema)).case
    assert outbox(services, landline.id) == []
    with gateway_configured(services, None):
        case = start(services, name="公孙建国")
    assert outbox(services, case.id) == []
    send(services)
    assert sms == []


def test_the_sms_reaches_the_phone_after_acceptance_in_the_browser(page: Page, sqlite_services: Services,  # noqa: F811
                                                                   gateway: tuple[list[dict[str, Any]], str]) -> None:
    received, url = gateway
    svc = sqlite_services
    settings = replace(svc.settings, secrets_key=KEY)
    with svc.db.write() as session:
        secrets.store(session, "sms_gateway_key", API_KEY, None, clock.now(), settings=settings)
    received.clear()
    with gateway_configured(svc, url):
        person = applicant(DONGPO) | {"name": "尉迟雨桐", "phone": "13982265517"}
        log_in(page, "dongpo_agent")
        page.goto("/cases/new")
        choose_item(page, "MZ-DIBAO")
        fill_application(page, person)
        page.click("#tick-all")
        page.click("#submit-case")
        expect(page.locator("main")).to_contain_text("收件回执单")
        number = page.locator("main").inner_text().split("MZ-DIBAO-")[1][:13]
        send(svc)
        [got] = received
        assert got["body"]["phone"] == "13982265517"
        assert f"办件编号MZ-DIBAO-{number}" in got["body"]["text"] and "承诺办结日期" in got["body"]["text"]
        shot(page, "190-accepted-and-sms-sent", full_page=True)
