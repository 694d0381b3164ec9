"""The SMS connector against a local HTTP gateway on 127.0.0.1 that records what it received."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from connectors import REGISTRY, ConnectorError
from connectors.sms_gateway import CONNECTOR, TEMPLATES, load_templates
from engine import clock, secrets
from engine.services import Services
from tests.localhttp import Answer, Request, serving

API_KEY = "sk-gateway-7c1e9a"
KEY = "5b0d7c1e-3f2a-4e8b-9c6d-1a2b3c4d5e6f"
ACCEPTED = {"item": "农村居民最低生活保障", "case_number": "QS-2026-000123", "promised_date": "2026年4月14日"}


class Gateway:
    """What the gateway received, and how it answers the next request (status, raw body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answer: tuple[int, bytes] = (200, json.dumps({"code": "OK", "message_id": "m-1"}).encode())


@contextmanager
def gateway() -> Iterator[tuple[Gateway, str]]:
    state = Gateway()

    def answer(request: Request) -> Answer:
        state.requests.append((request.headers, request.raw))
        return state.answer

    with serving(answer) as address:
        yield state, f"{address}/sms/send"


class Fixed:
    def get(self, name: str) -> str:
        return {"sms.gateway": API_KEY}[name]


def params(url: str, **more: Any) -> dict[str, Any]:
    return {"gateway_url": url, "api_key_secret": "sms.gateway", "template": "case_accepted",
            "phone": "13812345678", "variables": dict(ACCEPTED), **more}


def test_registered_and_templates_consistent() -> None:
    assert REGISTRY["sms/gateway"] is CONNECTOR and CONNECTOR.secret_parameters == ("api_key_secret",)
    assert {"case_accepted", "case_decided", "supplement_requested", "card_yellow", "card_red"} <= set(TEMPLATES)
    for template in TEMPLATES.values():
        assert template.text.startswith("【便民服务】")
        assert "{" not in template.render({name: "值" for name in template.variables})


def test_sends_the_rendered_chinese_text_and_only_the_declared_fields() -> None:
    with gateway() as (state, url):
        result = CONNECTOR.call({**params(url), "variables": dict(ACCEPTED)}, Fixed(), 5.0, KEY)
    [(headers, raw)] = state.requests
    sent = json.loads(raw.decode("utf-8"))
    text = ("【便民服务】您的农村居民最低生活保障申请已受理，办件编号QS-2026-000123，承诺办结日期2026年4月14日。"
            "可凭办件编号查询办理进度。")
    assert sent == {"phone": "13812345678", "template": "case_accepted", "text": text, "variables": ACCEPTED}
    assert headers["x-api-key"] == API_KEY and headers["idempotency-key"] == KEY
    assert headers["content-type"].startswith("application/json")
    assert result == {"status": 200, "body": {"code": "OK", "message_id": "m-1"}, "text": text}


def test_the_api_key_comes_from_a_stored_secret(sqlite_services: Services) -> None:
    settings = dataclasses.replace(sqlite_services.settings, secrets_key=Fernet.generate_key().decode())
    with sqlite_services.db.write() as session:
        secrets.store(session, "sms.gateway", API_KEY, None, clock.now(), settings=settings)
    with gateway() as (state, url), sqlite_services.db.read() as session:
        CONNECTOR.call(params(url, api_key_header="Authorization-Key"), secrets.reader(session, settings), 5.0, KEY)
    assert state.requests[0][0]["authorization-key"] == API_KEY


@pytest.mark.parametrize(("change", "message"), [
    ({"template": "no_such_template"}, "不存在"),
    ({"variables": {"item": "低保", "case_number": "QS-1"}}, "缺少变量 promised_date"),
    ({"variables": {**ACCEPTED, "id_number": "110101199003070000"}}, "模板未声明变量 id_number"),
    ({"variables": {**ACCEPTED, "item": "低保\n【假冒】点此链接"}}, "不能含换行"),
    ({"variables": {**ACCEPTED, "item": " "}}, "须为非空文本"),
    ({"phone": "1381234567"}, "手机号码格式不正确"),
    ({"phone": "+8613812345678"}, "手机号码格式不正确"),
    ({"phone": "12812345678"}, "手机号码格式不正确"),
    ({"phone": "138 1234 5678"}, "手机号码格式不正确"),
])
def test_refused_before_sending(change: dict[str, Any], message: str) -> None:
    with gateway() as (state, url):
        found = params(url, **change)
        assert CONNECTOR.check(found)  # the schema refuses it already where the diagram is checked
        with pytest.raises(ConnectorError, match=message) as refused:
            CONNECTOR.call(found, Fixed(), 5.0, KEY)
    assert not refused.value.retryable and state.requests == []
    assert "13812345678" not in refused.value.message


def test_valid_parameters_pass_the_schema() -> None:
    assert CONNECTOR.check(params("https://sms.example.cn/send")) == []


@pytest.mark.parametrize(("answer", "retryable", "message"), [
    ((503, b'{"error": "busy"}'), True, "HTTP 503"),
    ((500, b""), True, "HTTP 500"),
    ((400, b'{"error": "bad template"}'), False, "HTTP 400"),
    ((200, "<html>网关维护中</html>".encode()), False, "不是有效的 JSON"),
])
def test_gateway_answers_decide_retrying(answer: tuple[int, bytes], retryable: bool, message: str) -> None:
    with gateway() as (state, url):
        state.answer = answer
        with pytest.raises(ConnectorError, match=message) as refused:
            CONNECTOR.call(params(url), Fixed(), 5.0, KEY)
    assert refused.value.retryable is retryable and len(state.requests) == 1
    assert API_KEY not in refused.value.message


def test_an_unreachable_gateway_is_retryable() -> None:
    with gateway() as (_, url):
        pass  # closed again: nothing listens on its port now
    with pytest.raises(ConnectorError) as refused:
        CONNECTOR.call(params(url), Fixed(), 5.0, KEY)
    assert refused.value.retryable


def test_a_template_file_whose_variables_do_not_match_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "templates.toml"
    broken.write_text('[case_accepted]\ntext = "【便民服务】{item}{case_number}"\nvariables = ["item"]\n', "utf-8")
    with pytest.raises(ValueError, match="不一致"):
        load_templates(broken)
    good = tmp_path / "good.toml"
    good.write_text('[notice]\ntext = "【便民服务】{item}已受理"\nvariables = ["item"]\n', "utf-8")
    assert load_templates(good)["notice"].render({"item": "老年优待证"}) == "【便民服务】老年优待证已受理"
