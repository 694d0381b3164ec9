"""Notifications out: cards and other reminders reach staff by SMS and e-mail as each chose, the applicant by the
channels chosen at intake, never beyond the daily cap; tested against a local SMS gateway and a local SMTP server."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from engine import clock, notifications, scheduler, secrets
from engine.cases import incidents
from engine.cases.intake import Applicant
from engine.deadlines import extensions
from engine.errors import ValidationFailed
from engine.models import Notification, OutboxMessage, User
from engine.outbox import deliver, notices, outbound
from engine.people import accounts
from engine.procedures.deploy import current_version
from engine.services import Services
from engine.tasks import chase, delegate, transfer
from engine.tasks import copy as copying
from engine.window import ratings
from tests import test_zhaijidi as zhaijidi
from tests.conftest import user_id
from tests.procedures import applicant, fill
from tests.test_api import auth, make_client
from tests.test_applicant_sms import gateway  # noqa: F401
from tests.test_browser import DONGPO, base_url, browser, log_in, page, shot  # noqa: F401
from tests.test_cards import _case_clock, _on
from tests.test_connectors_mail import Recorder, smtp_server
from tests.test_engine import start
from tests.test_webui import app, client, login, post, text  # noqa: F401

KEY = Fernet.generate_key().decode()
SENDER = "bianmin@qingshui.gov.test"


@contextmanager
def sending(svc: Services, sms_url: str | None, mail_port: int | None = None, cap: int = 10_000) -> Iterator[None]:
    """The process configured with the local gateway and mail server (and a cap) while inside; the gateway's key
    stored as a secret."""
    with svc.db.write() as session:
        secrets.store(session, "sms_gateway_key", "gateway-key-notices", None, clock.now(),
                      settings=replace(svc.settings, secrets_key=KEY))
    configured = svc.db.session_info[outbound.SESSION_KEY]
    mail = outbound.MailServer("127.0.0.1", mail_port, SENDER, "off") if mail_port else None
    svc.db.session_info[outbound.SESSION_KEY] = replace(configured, sms_gateway_url=sms_url, mail=mail,
                                                        daily_cap=cap)
    try:
        yield
    finally:
        svc.db.session_info[outbound.SESSION_KEY] = configured


def deliver_all(svc: Services) -> None:
    reader = secrets.reader(svc.db, replace(svc.settings, secrets_key=KEY))
    while deliver.deliver_due(svc.cases, reader, 5.0, limit=100):
        pass


def mails_to(recorder: Recorder, address: str) -> list[email.message.EmailMessage]:
    found = []
    for envelope, _ in recorder.delivered:
        if address in envelope.rcpt_tos:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(message, email.message.EmailMessage)
            found.append(message)
    return found


@contextmanager
def contact(svc: Services, username: str, phone: str, mail: str,
            chosen: dict[str, list[str]] | None = None) -> Iterator[int]:
    """A staff member's phone and e-mail (and choice) for the block; as before afterwards."""
    uid = user_id(svc, username)
    with svc.db.write() as session:
        notices.choose(session, uid, phone, mail, chosen if chosen is not None else {"card": ["sms", "email"]})
    try:
        yield uid
    finally:
        with svc.db.write() as session:
            user = session.get(User, uid)
            user.phone = user.email = user.notify_channels = None


def test_a_yellow_card_reaches_the_holder_by_sms_and_e_mail(services: Services,
                                                           gateway: tuple[list[dict[str, Any]], str]) -> None:  # noqa: F811
    received, url = gateway
    received.clear()
    recorder = Recorder()
    with ExitStack() as stack:
        port = stack.enter_context(smtp_server(recorder))
        stack.enter_context(sending(services, url, port))
        stack.enter_context(contact(services, "dongpo_committee", "13981234567", "dongpo.cwh@qingshui.gov.test"))
        case = start(services, name="司马青云")
        deadline = _case_clock(services, case.id)
        clock.set_now(_on(deadline.yellow_from, 0) + timedelta(minutes=1))
        scheduler.tick(services.cases)
        deliver_all(services)
    # Other cases of the shared database may turn yellow in the same tick: this case's card only.
    [sms] = [got["body"] for got in received if got["body"]["template"] == "card_yellow"
             and got["body"]["variables"]["case_number"] == case.case_number]
    due = deadline.due_date
    assert sms["phone"] == "13981234567"
    assert sms["text"] == (f"【便民服务】黄牌预警：办件{case.case_number}（农村居民最低生活保障）的“办件整体”环节将于"
                           f"{due.year}年{due.month}月{due.day}日到期，请抓紧办理。")
    [mail] = [m for m in mails_to(recorder, "dongpo.cwh@qingshui.gov.test") if case.case_number in m["Subject"]]
    assert mail["Subject"].startswith("黄牌") and mail["From"] == SENDER
    assert "已进入预警期" in mail.get_content()
    # The applicant heard of the acceptance by SMS (the default), nobody else's number got the card.
    assert any(got["body"]["template"] == "case_accepted" and got["body"]["phone"] == case.applicant_phone
               for got in received)
    assert not [got for got in received if got["body"]["template"] == "card_yellow"
                and got["body"]["variables"]["case_number"] == case.case_number
                and got["body"]["phone"] != "13981234567"]


def test_each_person_s_choice_and_the_daily_cap(services: Services,
                                                gateway: tuple[list[dict[str, Any]], str]) -> None:  # noqa: F811
    received, url = gateway
    received.clear()
    with services.db.write() as session:
        if session.scalar(select(User.id).where(User.username == "qingshui_notice_clerk")) is None:
            accounts.add_user(session, "qingshui_notice_clerk", "town_civil_affairs", "510123101000",
                              display_name="东方明月", password="notice-clerk-2026")
    with sending(services, url, cap=2), contact(services, "qingshui_notice_clerk", "13700001111", "",
                                                {"chase": ["sms"]}) as uid:
        with services.db.write() as session:
            for n in range(3):
                notifications.notify(session, [uid], f"test-chase:{n}", "chase", f"催办：测试办件{n}", clock.now())
            # Cards were not chosen: in the app only.
            notifications.notify(session, [uid], "test-card:0", "card", "黄牌：测试办件", clock.now())
        with services.db.read() as session:
            queued = session.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.recipient == f"user:{uid}"))
            in_app = session.scalar(select(func.count()).select_from(Notification).where(
                Notification.user_id == uid, Notification.key.like("test-%")))
            assert notices.sent_today(session, uid, clock.now()) == 2
        deliver_all(services)
        with services.db.read() as session:
            shown = [(m.step, m.status) for m in notices.recent(session, uid, 20)]
    assert (queued, in_app) == (2, 4)
    assert sorted(shown) == [("催办：测试办件0", "sent"), ("催办：测试办件1", "sent")]
    mine = sorted(got["body"]["text"] for got in received if got["body"]["phone"] == "13700001111")
    assert mine == ["【便民服务】催办：测试办件0。详情请登录便民服务系统查看。",
                    "【便民服务】催办：测试办件1。详情请登录便民服务系统查看。"]


def test_a_choice_without_its_address_or_with_a_wrong_one_is_refused(services: Services) -> None:
    uid = user_id(services, "dongpo_agent")
    for phone, mail, chosen, says in [
            ("", "", {"card": ["sms"]}, "选择了短信提醒，请填写手机号码"),
            ("028-85550211", "", {}, "手机号码应为 11 位数字"),
            ("", "not-an-address", {}, "电子邮箱格式不正确"),
            ("", "", {"chase": ["email"]}, "选择了邮件提醒，请填写电子邮箱")]:
        with pytest.raises(ValidationFailed) as refused, services.db.write() as session:
            notices.choose(session, uid, phone, mail, chosen)
        assert says in refused.value.message
    with services.db.read() as session:
        user = session.get(User, uid)
        assert (user.phone, user.email, user.notify_channels) == (None, None, None)


def test_the_applicant_who_chose_e_mail_gets_mail_and_no_sms(services: Services,
                                                             gateway: tuple[list[dict[str, Any]], str]) -> None:  # noqa: F811
    received, url = gateway
    received.clear()
    recorder = Recorder()
    person = applicant(DONGPO) | {"name": "上官若水", "notify": ["email"], "email": "shangguan.rs@example.cn"}
    with smtp_server(recorder) as port, sending(services, url, port):
        case = services.cases.start_case(user_id(services, "dongpo_agent"), "MZ-DIBAO", DONGPO, person,
                                          start_form(services)).case
        deliver_all(services)
    [mail] = mails_to(recorder, "shangguan.rs@example.cn")
    assert mail["Subject"] == f"农村居民最低生活保障（办件编号{case.case_number}）"
    assert f"办件编号{case.case_number}，承诺办结日期" in mail.get_content()
    assert not [got for got in received if case.case_number in got["body"]["text"]]


def start_form(svc: Services) -> dict[str, Any]:
    with svc.db.read() as session:
        version = current_version(session, "MZ-DIBAO")
        return fill(version.forms[version.guide["application_form"]])


@pytest.mark.parametrize("raw, field, says", [
    ({"phone": "02885550211", "notify": ["sms"]}, "notify", "联系电话不是手机号码"),
    ({"notify": ["email"]}, "email", "选择电子邮件通知时须填写电子邮箱"),
    ({"notify": ["wechat"]}, "notify", "通知方式只能是短信"),
    ({"email": "zhang@", "notify": []}, "email", "电子邮箱格式不正确"),
])
def test_the_applicant_s_choice_is_checked_at_intake(raw: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        Applicant.parse(applicant(DONGPO) | raw)
    assert says in refused.value.fields[field][0]


def test_no_choice_keeps_sms_and_an_empty_one_tells_nobody() -> None:
    assert Applicant.parse(applicant(DONGPO)).notify is None
    assert Applicant.parse(applicant(DONGPO) | {"notify": []}).notify == ()


def test_the_settings_page_saves_and_refuses_with_the_reason(app: Flask, client: FlaskClient) -> None:  # noqa: F811
    login(client, "dongpo_agent")
    page_text = text(client.get("/notifications/settings"))
    assert "提醒设置" in page_text and "黄牌预警、红牌警示" in page_text and "本县尚未配置短信网关" in page_text
    refused = post(client, "/notifications/settings", {"phone": "12345", "channel_card": "sms"})
    assert refused.status_code == 422 and "手机号码应为 11 位数字" in text(refused)
    saved = post(client, "/notifications/settings", {"phone": "139 8123 4568", "email": "",
                                                     "channel_card": "sms", "channel_chase": "sms"})
    assert saved.status_code == 302
    again = client.get("/notifications/settings").text
    assert 'value="13981234568"' in again and "提醒设置已保存" in again


def test_a_village_agent_chooses_sms_for_cards_and_chases(page: Page, sqlite_services: Services) -> None:  # noqa: F811
    log_in(page, "liulin_agent")
    page.goto("/notifications")
    page.click("#notify-settings")
    page.fill("#phone", "13881234569")
    page.fill("#email", "liulin.daibanyuan.zhangguilan@shiqiao-town.gov.test")
    page.uncheck("input[name=channel_card][value=email]")
    page.check("input[name=channel_chase][value=sms]")
    page.click("#save-notify-settings")
    expect(page.locator(".flash-success, .alert-success").first).to_contain_text("提醒设置已保存")
    page.set_viewport_size({"width": 1366, "height": 900})
    shot(page, "194-notification-settings", full_page=True)
    with sqlite_services.db.read() as session:
        user = session.get(User, user_id(sqlite_services, "liulin_agent"))
        chosen = notices.channels(user)
    assert (user.phone, chosen["card"], chosen["chase"], chosen["task"]) == ("13881234569", ["sms"], ["sms"], [])


def test_zhaijidi_s_applicant_is_told_at_the_town_window_s_acceptance(
        services: Services, gateway: tuple[list[dict[str, Any]], str]) -> None:  # noqa: F811
    received, url = gateway
    received.clear()
    with sending(services, url):
        case = zhaijidi.register(services)
        deliver_all(services)
        # Registered and sent to the village's review: nothing is accepted yet, so nothing is said.
        assert not [got for got in received if case.case_number in got["body"]["text"]]
        zhaijidi.to_reviews(services, case.id)
        deliver_all(services)
    [sms] = [got["body"] for got in received if case.case_number in got["body"]["text"]]
    due = zhaijidi.reload(services, case.id).promised_date
    assert sms["template"] == "case_accepted" and sms["variables"]["promised_date"] == (
        f"{due.year}年{due.month}月{due.day}日")


def test_the_api_reads_and_changes_the_settings(sqlite_services: Services) -> None:
    api = make_client(sqlite_services)
    headers = auth(sqlite_services, "hewan_agent")
    shown = api.get("/api/v1/notifications/settings", headers=headers).json
    assert shown["channels"]["card"] == ["sms", "email"] and shown["phone"] is None and shown["daily_cap"] == 20
    refused = api.put("/api/v1/notifications/settings", headers=headers,
                         json={"channels": {"chase": ["sms"]}})
    assert refused.status_code == 422 and "选择了短信提醒，请填写手机号码" in refused.json["error"]
    unknown = api.put("/api/v1/notifications/settings", headers=headers, json={"channels": {"weather": ["sms"]}})
    assert unknown.status_code == 422 and "没有这类提醒：weather" in unknown.json["error"]
    saved = api.put("/api/v1/notifications/settings", headers=headers,
                       json={"phone": "13881239876", "channels": {"card": ["sms"], "chase": ["sms"]}})
    assert saved.status_code == 200
    assert (saved.json["phone"], saved.json["channels"]["card"], saved.json["channels"]["system"]) == (
        "13881239876", ["sms"], [])


def test_every_kind_of_notification_belongs_to_a_group_of_the_settings() -> None:
    """A new kind of notification must be placed in 提醒设置, or nobody could choose to get it by SMS or e-mail."""
    modules = (incidents, chase, delegate, copying, transfer, ratings, extensions)
    kinds = {module.NOTIFICATION_KIND for module in modules} | {"card", "section32"}
    assert kinds == set(notices.GROUP_OF)
