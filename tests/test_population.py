"""人口库查询: the connector against a local population service on 127.0.0.1, the intake look-up on both databases
with its system event, and the new-application page's route through Flask's test client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from sqlalchemy import select

from connectors import REGISTRY, ConnectorError, MalformedAnswer
from connectors.population import CONNECTOR, NotInRegister
from engine import clock, secrets
from engine.audit import system
from engine.errors import Forbidden
from engine.idcard import birth_date, gender, generate_id_number, mask_id_number
from engine.models import SystemEvent
from engine.services import Services
from engine.window import population
from tests.conftest import user_id
from tests.localhttp import Answer, Request, answer_json, serving
from tests.procedures import applicant
from tests.test_api import auth, make_client
from tests.test_webui import app, client, csrf, login  # noqa: F401  (the app fixtures)

DONGPO = "510123101201"
KEY = Fernet.generate_key().decode()
BEARER = "pop-key-5e1d7a"
ADDRESS = "四川省成都市青山县清水镇东坡村三组青杠林湾17号附2号（原东坡村老村委会斜对面）"


def household(number: str, surname: str) -> dict[str, Any]:
    """A household of four as the register keeps it, the applicant its head; long names as a register has them."""
    def member(name: str, relation: str, person: str) -> dict[str, str]:
        return {"name": name, "id_number": person, "relation": relation, "gender": gender(person),
                "birth_date": birth_date(person).isoformat()}

    return {"household_number": "510123101201000317", "address": ADDRESS, "members": [
        member(f"{surname}明远", "户主", number),
        member("热依拉·阿不都热合曼", "配偶", generate_id_number("510123", date(1958, 7, 21), 42)),
        member(f"{surname}思源", "长子", generate_id_number("510123", date(1983, 2, 9), 17)),
        member(f"{surname}欣悦", "孙女", generate_id_number("510123", date(2012, 11, 30), 8)),
    ]}


class Register:
    """The population service: what it received, the households it knows, and how it answers the next request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.households: dict[str, dict[str, Any]] = {}
        self.answer: tuple[int, bytes] | None = None  # instead of looking the number up
        self.delay = 0.0


@contextmanager
def register_server() -> Iterator[tuple[Register, str]]:
    state = Register()

    def answer(request: Request) -> Answer:
        state.requests.append({"path": request.path, "headers": request.headers, "body": request.json()})
        time.sleep(state.delay)
        if state.answer is not None:
            return state.answer
        found = state.households.get(request.json().get("id_number"))
        return answer_json(404, {"error": "未登记"}) if found is None else answer_json(200, found)

    with serving(answer) as address:
        yield state, f"{address}/population/lookup"


@pytest.fixture(scope="module")
def register() -> Iterator[tuple[Register, str]]:
    with register_server() as (state, url):
        yield state, url


@pytest.fixture
def fresh(register: tuple[Register, str]) -> tuple[Register, str]:
    state, url = register
    state.requests.clear()
    state.answer, state.delay = None, 0.0
    return state, url


# -- the connector ------------------------------------------------------------------------------------------------


def call(svc: Services, url: str, number: str, timeout: float = 5.0) -> dict[str, Any]:
    return CONNECTOR.call({"url": url, "id_number": number}, secrets.reader(svc.db, svc.settings), timeout, "k-1")


def test_the_household_comes_back_and_only_the_number_went_out(sqlite_services: Services,
                                                                fresh: tuple[Register, str]) -> None:
    state, url = fresh
    number = applicant(DONGPO)["id_number"]
    state.households[number] = household(number, "澹台")
    assert REGISTRY["population/lookup"] is CONNECTOR and CONNECTOR.secret_parameters == ("bearer_secret",)
    assert CONNECTOR.check({"url": url, "id_number": number}) == []
    assert CONNECTOR.check({"url": "ftp://x", "id_number": number[:17]}) != []

    found = call(sqlite_services, url, number)
    assert found == state.households[number]
    [got] = state.requests
    # The number in the body and nowhere else: not in the path, whose query strings proxies log.
    assert got["body"] == {"id_number": number} and got["path"] == "/population/lookup"
    assert got["headers"]["content-type"].startswith("application/json") and "authorization" not in got["headers"]


def test_missing_fields_come_back_empty_and_a_bad_answer_is_malformed(sqlite_services: Services,
                                                                      fresh: tuple[Register, str]) -> None:
    state, url = fresh
    number = applicant(DONGPO)["id_number"]
    state.answer = (200, json.dumps({"members": [{"name": "澹台春生", "relation": "户主"}]}).encode())
    assert call(sqlite_services, url, number) == {"household_number": "", "address": "", "members": [
        {"name": "澹台春生", "relation": "户主", "id_number": "", "gender": "", "birth_date": ""}]}
    for raw, says in [(b"<html>\xe7\xbd\x91\xe5\x85\xb3\xe9\x94\x99\xe8\xaf\xaf</html>", "不是有效的 JSON"),
                      (b"[]", "应为 JSON 对象"),
                      (json.dumps({"household_number": "1", "members": []}).encode(), "缺少家庭成员列表"),
                      (json.dumps({"members": [{"name": "澹台春生"}]}).encode(), "第 1 名家庭成员缺少 relation"),
                      (json.dumps({"members": [{"name": "澹台春生", "relation": "户主", "gender": 1}]}).encode(),
                       "gender应为文本")]:
        state.answer = (200, raw)
        with pytest.raises(MalformedAnswer, match=says) as refused:
            call(sqlite_services, url, number)
        assert refused.value.retryable is False


def test_not_found_unavailable_and_timed_out(sqlite_services: Services, fresh: tuple[Register, str]) -> None:
    state, url = fresh
    with pytest.raises(NotInRegister, match="没有该身份证号码") as missing:
        call(sqlite_services, url, applicant(DONGPO)["id_number"])
    assert missing.value.retryable is False
    state.answer = (503, b'{"error": "maintenance"}')
    with pytest.raises(ConnectorError, match="HTTP 503") as down:
        call(sqlite_services, url, applicant(DONGPO)["id_number"])
    assert down.value.retryable is True and down.value.status == 503
    state.answer, state.delay = None, 1.0
    started = time.monotonic()
    with pytest.raises(ConnectorError, match="超时") as slow:
        call(sqlite_services, url, applicant(DONGPO)["id_number"], timeout=0.3)
    assert slow.value.retryable is True and time.monotonic() - started < 0.9


# -- the look-up at intake, on both databases ---------------------------------------------------------------------


def configured(svc: Services, url: str, **changes: Any) -> Any:
    return replace(svc.settings, population_url=url, secrets_key=KEY,
                   population_key_secret=f"population_key_{uuid4().hex[:8]}", **changes)


def recorded(svc: Services, number: str) -> list[SystemEvent]:
    with svc.db.read() as session:
        assert system.verify(session) == []
        return list(session.scalars(select(SystemEvent).where(
            SystemEvent.kind == "population_looked_up", SystemEvent.subject == mask_id_number(number))))


def test_the_look_up_sends_the_key_and_records_who_asked(services: Services, fresh: tuple[Register, str]) -> None:
    state, url = fresh
    settings = configured(services, url)
    with services.db.write() as session:
        secrets.store(session, settings.population_key_secret, BEARER, None, clock.now(), settings=settings)
    number = applicant(DONGPO)["id_number"]
    state.households[number] = household(number, "澹台")
    agent = user_id(services, "dongpo_agent")

    # Typed with spaces and a lower-case x where it has one, as clerks do: the register gets it normalized.
    found = population.look_up(services.db, settings, agent, f" {number[:6]} {number[6:].lower()} ")
    assert (found.household_number, found.address, len(found.members)) == ("510123101201000317", ADDRESS, 4)
    assert found.applicant is not None and found.applicant["name"] == "澹台明远"
    [got] = state.requests
    assert got["body"] == {"id_number": number} and got["headers"]["authorization"] == f"Bearer {BEARER}"

    [event] = recorded(services, number)
    assert (event.actor_id, event.after) == (agent, {"found": True, "members": 4})
    assert "澹台" not in repr((event.subject, event.before, event.after)) and number not in event.subject


def test_without_a_stored_key_none_is_sent_and_not_found_is_recorded(services: Services,
                                                                      fresh: tuple[Register, str]) -> None:
    state, url = fresh
    number = applicant(DONGPO)["id_number"]
    with pytest.raises(population.NotInPopulationRegister, match="手工填写") as missing:
        population.look_up(services.db, configured(services, url), user_id(services, "qingshui_window"), number)
    assert mask_id_number(number) in missing.value.message and number not in missing.value.message
    [got] = state.requests
    assert "authorization" not in got["headers"]
    [event] = recorded(services, number)
    assert event.after == {"found": False}


def test_each_failure_says_what_to_do_and_records_nothing(services: Services, fresh: tuple[Register, str]) -> None:
    state, url = fresh
    agent = user_id(services, "dongpo_agent")
    number = applicant(DONGPO)["id_number"]
    with pytest.raises(population.LookupNotConfigured, match="BIANMIN_POPULATION_URL"):
        population.look_up(services.db, services.settings, agent, number)
    with pytest.raises(population.LookupIdNumberInvalid, match="校验位不正确") as invalid:
        population.look_up(services.db, configured(services, url), agent, number[:17] + ("1" if number[17] != "1"
                                                                                         else "2"))
    assert invalid.value.status == 422 and invalid.value.fields["id_number"]
    with pytest.raises(Forbidden):
        population.look_up(services.db, configured(services, url), user_id(services, "county_civil"), number)
    assert state.requests == []

    state.answer = (503, b"{}")
    with pytest.raises(population.PopulationUnreachable, match="HTTP 503.*手工填写"):
        population.look_up(services.db, configured(services, url), agent, number)
    state.answer, state.delay = None, 1.5
    with pytest.raises(population.PopulationUnreachable, match="超时.*手工填写"):
        population.look_up(services.db, configured(services, url, connector_timeout_seconds=0.3), agent, number)
    state.answer, state.delay = (200, b'{"members": "none"}'), 0.0
    with pytest.raises(population.PopulationAnswerMalformed, match="缺少家庭成员列表"):
        population.look_up(services.db, configured(services, url), agent, number)
    assert recorded(services, number) == []


# -- the route on the new-application page ------------------------------------------------------------------------


@pytest.fixture
def offered(sqlite_services: Services, fresh: tuple[Register, str]) -> Iterator[Register]:
    """The look-up configured on the served app for this test only."""
    state, url = fresh
    kept = sqlite_services.settings
    sqlite_services.settings = replace(kept, population_url=url,
                                       population_key_secret=f"population_key_{uuid4().hex[:8]}")
    yield state
    sqlite_services.settings = kept


def ask(client: FlaskClient, number: str, token: str | None = None) -> Any:  # noqa: F811
    return client.post("/cases/new/population", json={"id_number": number},
                       headers={"X-CSRF-Token": csrf(client) if token is None else token})


def test_the_page_offers_the_look_up_and_answers_json(client: FlaskClient, sqlite_services: Services,  # noqa: F811
                                                      offered: Register) -> None:
    number = applicant(DONGPO)["id_number"]
    offered.households[number] = household(number, "公冶")
    login(client, "dongpo_agent")
    page = client.get("/cases/new?item=MZ-DIBAO").get_data(as_text=True)
    assert 'id="population-lookup"' in page and "查询人口库" in page and "population.js" in page

    answer = ask(client, number)
    assert answer.status_code == 200 and answer.is_json
    body = answer.get_json()
    assert body["applicant_name"] == "公冶明远" and body["address"] == ADDRESS
    assert [m["name"] for m in body["members"]] == ["公冶明远", "热依拉·阿不都热合曼", "公冶思源", "公冶欣悦"]
    # Other people's numbers reach the page masked; the applicant's own too (the clerk typed it).
    assert [m["id_number"] for m in body["members"]] == [mask_id_number(m["id_number"])
                                                         for m in household(number, "公冶")["members"]]
    assert number not in answer.get_data(as_text=True)

    refused = ask(client, number, token="not-the-token")
    assert refused.status_code == 400 and len(offered.requests) == 1

    invalid = ask(client, "51012319560312123")
    assert invalid.status_code == 422 and invalid.get_json() == {"error": "无法查询人口库：身份证号码应为18位"}
    missing = ask(client, applicant(DONGPO)["id_number"])
    assert missing.status_code == 404 and "没有身份证号码" in missing.get_json()["error"]


def test_refused_to_a_role_that_does_not_accept_and_absent_when_unconfigured(
        client: FlaskClient, sqlite_services: Services, fresh: tuple[Register, str]) -> None:  # noqa: F811
    login(client, "dongpo_agent")
    assert 'id="population-lookup"' not in client.get("/cases/new?item=MZ-DIBAO").get_data(as_text=True)
    unconfigured = ask(client, applicant(DONGPO)["id_number"])
    assert unconfigured.status_code == 503 and "未配置人口库查询" in unconfigured.get_json()["error"]

    other = client.application.test_client()
    login(other, "county_civil")
    forbidden = ask(other, applicant(DONGPO)["id_number"])
    assert forbidden.status_code == 403 and "村代办员和便民服务中心窗口人员" in forbidden.get_json()["error"]
    assert fresh[0].requests == []


def test_the_api_answers_as_the_page_does(sqlite_services: Services, offered: Register) -> None:
    number = applicant(DONGPO)["id_number"]
    offered.households[number] = household(number, "闾丘")
    api = make_client(sqlite_services)
    answer = api.post("/api/v1/population/lookup", json={"id_number": number},
                      headers=auth(sqlite_services, "dongpo_agent"))
    assert answer.status_code == 200 and answer.json["applicant_name"] == "闾丘明远"
    assert number not in answer.get_data(as_text=True) and len(answer.json["members"]) == 4
    refused = api.post("/api/v1/population/lookup", json={"id_number": number},
                       headers=auth(sqlite_services, "county_civil"))
    assert refused.status_code == 403 and len(offered.requests) == 1
