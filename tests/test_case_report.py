"""办件信息上报 through the outbox to a local platform that records what it got: each milestone's code from the
province's table (a test table), only the fields it maps, retried after a 503, an incident an administrator retries,
an incomplete table refused at start, nothing when no platform is configured."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from connectors import REGISTRY
from engine import clock, secrets
from engine.cases.outcomes import Outcome, Window
from engine.config import NotConfigured
from engine.models import CaseEvent, Incident, OutboxMessage
from engine.outbox import codetable, deliver, outbound
from engine.services import Services, open_services
from tests.conftest import user_id
from tests.localhttp import Answer, Request, answer_json, serving
from tests.procedures import applicant
from tests.test_applicant_sms import outbox
from tests.test_engine import DONGPO, drive, start
from tests.test_intake import register, ticks
from tests.test_zhaijidi import register as register_homestead
from tests.test_zhaijidi import to_reviews

TABLES = Path(__file__).resolve().parent / "fixtures" / "case_report"
TABLE = codetable.load(TABLES / "test_province.toml")
KEY = Fernet.generate_key().decode()
TOKEN = "platform-test-token-5b1d"
NUMBER, STATE, RESULT = TABLE.fields["case_number"], TABLE.fields["state"], TABLE.fields["result"]


class Platform:
    """What the local platform received, and the cases it answers 503 once or 400 every time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received: list[dict[str, Any]] = []
        self.unavailable_once: set[str] = set()
        self.refusing: set[str] = set()

    def of(self, case_number: str) -> list[dict[str, Any]]:
        return [got for got in self.received if got["body"].get(NUMBER) == case_number and got["status"] == 200]


@pytest.fixture(scope="module")
def server() -> Iterator[Platform]:
    platform = Platform("")

    def answer(request: Request) -> Answer:
        body = request.json()
        number = body.get(NUMBER)
        status = 400 if number in platform.refusing else 503 if number in platform.unavailable_once else 200
        platform.unavailable_once.discard(number)
        platform.received.append({"body": body, "status": status, "auth": request.headers.get("authorization"),
                                  "key": request.headers.get("idempotency-key")})
        return answer_json(status, {"code": "0", "message": "ok"} if status == 200 else {"message": "busy"})

    with serving(answer) as address:
        platform.url = f"{address}/api/bjxx"
        yield platform


@pytest.fixture
def platform(services: Services, server: Platform) -> Iterator[Platform]:
    """The province's platform configured on the runtime with the test table, its token stored as a secret."""
    with services.db.write() as session:
        secrets.store(session, "case_report_key", TOKEN, None, clock.now(),
                      settings=replace(services.settings, secrets_key=KEY))
    configured = services.db.session_info[outbound.SESSION_KEY]
    services.db.session_info[outbound.SESSION_KEY] = replace(
        configured, case_report_url=server.url, case_report_key_secret="case_report_key", case_report_codes=TABLE)
    server.received.clear()
    try:
        yield server
    finally:
        services.db.session_info[outbound.SESSION_KEY] = configured


def send(svc: Services) -> None:
    deliver.deliver_due(svc.cases, secrets.reader(svc.db, replace(svc.settings, secrets_key=KEY)), 5.0)


def reports(svc: Services, case_id: int) -> list[OutboxMessage]:
    return [row for row in outbox(svc, case_id) if row.connector == "platform/case_report"]


def history(svc: Services, case_id: int) -> list[tuple[str, str | None]]:
    with svc.db.read() as session:
        return [(e.kind, e.step) for e in session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq))]


def by_state(platform: Platform, case_number: str) -> dict[str, dict[str, str]]:
    return {got["body"][STATE]: got["body"] for got in platform.of(case_number)}


def test_an_accepted_case_is_reported_with_the_accepted_code_and_only_the_mapped_fields(
        services: Services, platform: Platform) -> None:
    case = start(services, name="闻人晓岚")
    [row] = reports(services, case.id)
    assert (row.step, row.status) == ("办件信息上报（受理）", "pending")
    assert row.idempotency_key == f"report:{case.id}:accepted"
    send(services)
    [got] = platform.of(case.case_number)
    # What arrived is what the outbox row showed, to the character.
    assert got["body"] == row.params["record"]
    assert got["auth"] == f"Bearer {TOKEN}" and got["key"] == f"report:{case.id}:accepted"
    body = got["body"]
    assert body[STATE] == "T-SL" and RESULT not in body
    assert body[TABLE.fields["item_code"]] == "MZ-DIBAO"
    assert body[TABLE.fields["item_name"]] == "农村居民最低生活保障"
    assert body[TABLE.fields["applicant_name"]] == "闻人晓岚"
    assert body[TABLE.fields["organ"]] == "东坡村便民服务站" and body[TABLE.fields["organ_code"]] == DONGPO
    assert body[TABLE.fields["accepted_at"]] == "20260302090000"
    assert body[TABLE.fields["promised_date"]] == case.promised_date.isoformat()
    # Only the fields the table maps, and of those only the ones a 受理 has: no ID number, no phone, no 办结时间.
    assert set(body) == {TABLE.fields[name] for name in (
        "case_number", "item_code", "item_name", "applicant_name", "organ", "organ_code", "accepted_at",
        "promised_date", "state", "state_at")}
    assert case.applicant_id_number not in json.dumps(body) and case.applicant_phone not in json.dumps(body)
    assert ("service_call_sent", "办件信息上报（受理）") in history(services, case.id)
    send(services)
    assert len(platform.of(case.case_number)) == 1  # once


def test_supplement_then_refusal_at_the_window_report_their_codes(services: Services, platform: Platform) -> None:
    person = applicant(DONGPO) | {"name": "上官明远"}
    case = register(services, Window(ticks("家庭收入证明"), Outcome.SUPPLEMENT), person)
    services.cases.examine(user_id(services, "dongpo_agent"), case.id,
                           Window(ticks("家庭收入证明"), Outcome.REFUSE, reasons="逾期未补正家庭收入证明",
                                  basis="《中华人民共和国行政许可法》第三十二条"))
    send(services)
    sent = by_state(platform, case.case_number)
    assert set(sent) == {"T-BZ", "T-BYSL"}
    assert TABLE.fields["accepted_at"] not in sent["T-BZ"] and TABLE.fields["decided_at"] not in sent["T-BZ"]
    refused = sent["T-BYSL"]
    assert refused[TABLE.fields["refusal_reasons"]] == "逾期未补正家庭收入证明"
    assert refused[TABLE.fields["decided_at"]] == "20260302090000" and RESULT not in refused
    assert TABLE.fields["accepted_at"] not in refused
    assert {row.idempotency_key for row in reports(services, case.id)} == {
        f"report:{case.id}:supplement", f"report:{case.id}:refused"}


def test_a_decided_case_reports_the_result_code(services: Services, platform: Platform) -> None:
    case = start(services, name="夏侯一鸣")
    final, _ = drive(services, case)
    assert final.result == "approved"
    send(services)
    # Both 受理 and 办结 carry the 受理 state code (the test table has no `decided` state); 办结 adds the result.
    assert len(platform.of(case.case_number)) == 2
    [decided] = [got["body"] for got in platform.of(case.case_number) if RESULT in got["body"]]
    assert decided[RESULT] == "T-ZY"
    assert decided[TABLE.fields["decided_at"]] == final.completed_at.astimezone(clock.SHANGHAI).strftime(
        "%Y%m%d%H%M%S")
    assert ("service_call_sent", "办件信息上报（办结）") in history(services, case.id)


def test_a_case_with_an_acceptance_step_is_reported_accepted_there(services: Services, platform: Platform) -> None:
    case = register_homestead(services)
    # Taken in at the village; 受理 (and the clock) is the town window's step after the village's review and 公示.
    assert reports(services, case.id) == []
    to_reviews(services, case.id)
    send(services)
    [got] = platform.of(case.case_number)
    assert got["body"][STATE] == "T-SL"
    assert got["body"][TABLE.fields["accepted_at"]] == clock.local_now().strftime("%Y%m%d%H%M%S")


def test_a_503_is_retried_and_the_second_try_goes_through(services: Services, platform: Platform) -> None:
    case = start(services, name="诸葛明轩")
    platform.unavailable_once.add(case.case_number)
    send(services)
    [row] = reports(services, case.id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "对方返回 HTTP 503")
    assert platform.of(case.case_number) == []
    clock.travel(timedelta(minutes=5))
    send(services)
    [got] = platform.of(case.case_number)
    assert got["body"][STATE] == "T-SL" and got["key"] == f"report:{case.id}:accepted"
    [row] = reports(services, case.id)
    assert (row.status, row.attempts) == ("sent", 2)
    steps = [kind for kind, step in history(services, case.id) if step == "办件信息上报（受理）"]
    assert steps == ["service_call_queued", "service_call_failed", "service_call_sent"]


def test_the_decision_waits_for_the_acceptance_report_still_being_retried(services: Services,
                                                                           platform: Platform) -> None:
    case = start(services, name="澹台思远")
    platform.unavailable_once.add(case.case_number)
    send(services)
    drive(services, case)
    # Driving the case on moved the clock past 受理's retry; the platform is still down when it comes.
    platform.unavailable_once.add(case.case_number)
    send(services)
    # 受理 waits for its next retry, and 办结 waits behind it: the platform never hears of the end first.
    assert platform.of(case.case_number) == []
    assert [row.status for row in reports(services, case.id)] == ["pending", "pending"]
    clock.travel(timedelta(minutes=5))
    send(services)
    assert [RESULT in got["body"] for got in platform.of(case.case_number)] == [False, True]


def test_a_refused_report_becomes_an_incident_the_administrator_retries(services: Services,
                                                                        platform: Platform) -> None:
    case = start(services, name="司徒静怡")
    platform.refusing.add(case.case_number)
    send(services)
    [row] = reports(services, case.id)
    assert row.status == "failed"
    with services.db.read() as session:
        [incident] = session.scalars(select(Incident).where(Incident.case_id == case.id,
                                                            Incident.resolved_at.is_(None)))
    assert incident.step == "办件信息上报（受理）" and "HTTP 400" in incident.message
    platform.refusing.discard(case.case_number)
    services.cases.retry_call(user_id(services, "admin"), case.id)
    send(services)
    assert len(platform.of(case.case_number)) == 1
    with services.db.read() as session:
        assert session.get(Incident, incident.id).resolved_at is not None


def test_a_cancelled_case_is_reported_where_the_table_has_a_code_for_it(services: Services,
                                                                        platform: Platform) -> None:
    case = start(services, name="万俟清和")
    services.cases.cancel(user_id(services, "admin"), case.id, "重复录入，已在另一办件中受理")
    send(services)
    [cancelled] = [got["body"] for got in platform.of(case.case_number) if got["body"][STATE] == "T-CX"]
    assert TABLE.fields["decided_at"] in cancelled and TABLE.fields["refusal_reasons"] not in cancelled
    # A province whose table has no code for 撤销 hears nothing of it.
    services.db.session_info[outbound.SESSION_KEY] = replace(
        services.db.session_info[outbound.SESSION_KEY],
        case_report_codes=replace(TABLE, states={k: v for k, v in TABLE.states.items() if k != "cancelled"}))
    other = start(services, name="万俟清平")
    services.cases.cancel(user_id(services, "admin"), other.id, "申请人撤回申请")
    send(services)
    assert [got["body"][STATE] for got in platform.of(other.case_number)] == ["T-SL"]


def test_no_report_when_no_platform_is_configured(services: Services) -> None:
    case = start(services, name="东方振宇")
    assert reports(services, case.id) == []


def test_the_connector_takes_only_a_record_of_strings() -> None:
    connector = REGISTRY["platform/case_report"]
    assert connector.check({"url": "https://platform.example/bj", "record": {"BJBH": "MZ-DIBAO-1"}}) == []
    problems = connector.check({"url": "https://platform.example/bj", "record": {"BJBH": 1}, "extra": True})
    assert len(problems) == 2 and any("record/BJBH" in p for p in problems)


def test_an_incomplete_table_is_refused_at_start_naming_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIANMIN_CASE_REPORT_URL", "https://platform.example/bj")
    with pytest.raises(NotConfigured, match="BIANMIN_CASE_REPORT_CODES"):
        open_services("sqlite:///:memory:")
    monkeypatch.setenv("BIANMIN_CASE_REPORT_CODES", str(TABLES / "incomplete.toml"))
    with pytest.raises(NotConfigured) as refused:
        open_services("sqlite:///:memory:")
    message = refused.value.message
    assert message.startswith(f"办件信息上报代码对照表 {TABLES / 'incomplete.toml'} 不完整或有误：")
    for named in ("[source] 缺少 issued_by（发布机关）", "[fields] 缺少 result（办结结果代码）",
                  "[fields] 中的 holder 不是可用的项", "[state] 缺少 refused（不予受理）",
                  "[state] 的 supplement 应为非空字符串（代码请加引号）"):
        assert named in message
    assert message.endswith("服务未启动")
    monkeypatch.setenv("BIANMIN_CASE_REPORT_CODES", str(TABLES / "missing.toml"))
    with pytest.raises(NotConfigured, match="不存在"):
        open_services("sqlite:///:memory:")
