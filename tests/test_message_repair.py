"""A message to the applicant that failed on a case not running (waiting in 补正, completed): an administrator sends
it again or skips it with the reason, in the engine (SQLite and PostgreSQL) and from the case page."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from engine import clock, secrets
from engine.audit import chain as audit
from engine.cases.outcomes import Outcome, Window
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.models import CaseEvent, Incident
from engine.services import Services
from tests.conftest import user_id
from tests.procedures import applicant
from tests.test_applicant_sms import KEY, gateway, gateway_configured, outbox, send  # noqa: F401
from tests.test_browser import DONGPO
from tests.test_engine import drive, start
from tests.test_intake import register, reread, ticks
from tests.test_webui import login, post, text
from webui import create_app

# Secret names no other test stores: the first is entered by this file's administrator, the second never.
ENTERED_LATER = "sms_gateway_key_repair"
NEVER_ENTERED = "sms_gateway_key_unentered"


def supplement_with_failed_sms(svc: Services, url: str, name: str) -> int:
    """A 补正 case whose notice SMS failed at once: the gateway's key was never entered."""
    with gateway_configured(svc, url, key_secret=NEVER_ENTERED):
        case = register(svc, Window(ticks("家庭收入证明"), Outcome.SUPPLEMENT), applicant(DONGPO) | {"name": name})
    send(svc)
    return case.id


def service_incidents(svc: Services, case_id: int) -> list[Incident]:
    with svc.db.read() as session:
        return list(session.scalars(select(Incident).where(Incident.case_id == case_id, Incident.kind == "service")))


def events(svc: Services, case_id: int, kind: str) -> list[CaseEvent]:
    with svc.db.read() as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
                                    .order_by(CaseEvent.seq)))


def test_a_failed_sms_on_a_case_in_supplement_is_sent_again(services: Services,
                                                            gateway: tuple[list[dict[str, Any]], str]) -> None:  # noqa: F811
    received, url = gateway
    received.clear()
    with gateway_configured(services, url, key_secret=ENTERED_LATER):
        case = register(services, Window(ticks("家庭收入证明"), Outcome.SUPPLEMENT),
                        applicant(DONGPO) | {"name": "闻人晓岚"})
    send(services)
    [failed] = outbox(services, case.id)
    assert failed.status == "failed" and f"“{ENTERED_LATER}”不存在" in (failed.last_error or "")
    [incident] = service_incidents(services, case.id)
    assert (incident.step, incident.resolved_at) == ("补正短信", None)
    admin = user_id(services, "admin")
    with pytest.raises(Forbidden):
        services.cases.retry_call(user_id(services, "dongpo_agent"), case.id)
    # The administrator enters the missing key, then sends the message again.
    with services.db.write() as session:
        secrets.store(session, ENTERED_LATER, "gw-key-repair-71", admin, clock.now(),
                      settings=replace(services.settings, secrets_key=KEY))
    services.cases.retry_call(admin, case.id)
    assert outbox(services, case.id)[0].status == "pending"
    assert service_incidents(services, case.id)[0].resolved_at is not None
    send(services)
    [sent] = outbox(services, case.id)
    assert (sent.status, sent.attempts) == ("sent", 2)
    [got] = [r for r in received if r["body"]["variables"].get("case_number") == case.case_number]
    assert got["api_key"] == "gw-key-repair-71" and got["body"]["template"] == "supplement_requested"
    assert reread(services, case.id)[0].status == "supplement"
    assert len(events(services, case.id, "step_retried")) == 1


def test_failed_sms_on_a_completed_case_are_skipped_with_the_reason(services: Services,
                                                                   gateway: tuple[list[dict[str, Any]], str]) -> None:  # noqa: F811
    _received, url = gateway
    with gateway_configured(services, url, key_secret=NEVER_ENTERED):
        case = start(services, name="澹台志远")
        final, _ = drive(services, case, reject_at="town_review")
    send(services)
    assert final.status == "completed"
    assert sorted(row.status for row in outbox(services, case.id)) == ["failed", "failed"]
    admin = user_id(services, "admin")
    with pytest.raises(ValidationFailed):
        services.cases.skip_call(admin, case.id, " ")
    # Both messages failed into the one incident: it stays open until the second is dealt with too.
    assert services.cases.skip_call(admin, case.id, "申请人已到窗口领取决定书") is None
    assert service_incidents(services, case.id)[0].resolved_at is None
    services.cases.skip_call(admin, case.id, "申请人已到窗口领取决定书，受理短信不再补发")
    assert [row.status for row in outbox(services, case.id)] == ["skipped", "skipped"]
    assert service_incidents(services, case.id)[0].resolved_at is not None
    skipped = events(services, case.id, "service_call_skipped")
    assert [(e.step, e.after["reason"]) for e in skipped] == [
        ("办结短信", "申请人已到窗口领取决定书"), ("受理短信", "申请人已到窗口领取决定书，受理短信不再补发")]
    assert reread(services, case.id)[0].status == "completed"
    with pytest.raises(Conflict):
        services.cases.skip_call(admin, case.id, "再跳过")
    with services.db.read() as session:
        assert audit.verify(session, case.id) == []


def test_the_case_page_offers_the_buttons_on_a_case_in_supplement(sqlite_services: Services,
                                                                  gateway: tuple[list[dict[str, Any]], str]) -> None:  # noqa: F811
    svc = sqlite_services
    case_id = supplement_with_failed_sms(svc, gateway[1], "公冶春晖")
    app = create_app(services=svc, config={"TESTING": True})
    clerk = app.test_client()
    login(clerk, "dongpo_agent")
    assert 'id="repair-call-retry"' not in clerk.get(f"/cases/{case_id}").get_data(as_text=True)
    assert post(clerk, f"/cases/{case_id}/repair/call", {"action": "skip", "reason": "越权"}).status_code == 403
    admin = app.test_client()
    login(admin, "admin")
    page = admin.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="repair-call-retry"' in page and 'id="repair-call-skip"' in page and "补正短信" in page
    # Moving or cancelling a case is for running ones: only the message's buttons are offered here.
    assert 'id="repair-migrate"' not in page and 'id="repair-cancel"' not in page
    blank = post(admin, f"/cases/{case_id}/repair/call", {"action": "skip", "reason": ""}, follow_redirects=True)
    assert "请填写跳过的理由" in text(blank) and outbox(svc, case_id)[0].status == "failed"
    reason = "申请人电话停机，已当面告知补正材料"
    done = post(admin, f"/cases/{case_id}/repair/call", {"action": "skip", "reason": reason}, follow_redirects=True)
    assert "已跳过，该消息不再发送" in text(done) and 'id="repair"' not in done.get_data(as_text=True)
    assert outbox(svc, case_id)[0].status == "skipped" and service_incidents(svc, case_id)[0].resolved_at
    [skipped] = events(svc, case_id, "service_call_skipped")
    assert skipped.after["reason"] == reason and skipped.actor_id == user_id(svc, "admin")
