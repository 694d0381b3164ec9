"""The window on the web: checklist on the new-application page, 补正 and return on the case page, the intake list
and the refusal register (Flask test client)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from engine import clock
from engine.procedures.deploy import current_version
from engine.services import Services
from tests.procedures import applicant, fill
from tests.test_api import auth, make_client
from tests.test_webui import app, as_posted, client, login, post, summary, text  # noqa: F401  (the app fixtures)

DONGPO = "510123101201"
MATERIALS = ["户主书面申请书", "户口簿及家庭成员身份证复印件", "家庭收入证明", "重病、重残等其他有关证明材料",
             "家庭经济状况核对授权书及诚信承诺书", "委托书（委托村委会或他人代为申请的）"]


def new_case_form(svc: Services, person: dict[str, str], received: list[str], outcome: str,
                  **extra: str) -> dict[str, Any]:
    with svc.db.read() as session:
        version = current_version(session, "MZ-DIBAO")
        data = fill(version.forms[version.guide["application_form"]])
    form = {"item": "MZ-DIBAO", "applicant_name": person["name"], "applicant_id_number": person["id_number"],
            "applicant_phone": person["phone"], "outcome": outcome, **as_posted(data), **extra}
    for index, name in enumerate(MATERIALS):
        form[f"m{index}_copies"] = "1"
        if name in received:
            form[f"m{index}_received"] = "on"
    return form


def ticked(received: list[str], outcome: str, **extra: str) -> dict[str, str]:
    form = {"outcome": outcome, **extra}
    for index, name in enumerate(MATERIALS):
        form[f"m{index}_copies"] = "2"
        if name in received:
            form[f"m{index}_received"] = "on"
    return form


def test_missing_material_notice_then_return_and_acceptance(client: FlaskClient,  # noqa: F811
                                                            sqlite_services: Services) -> None:
    login(client, "dongpo_agent")
    page = client.get("/cases/new?item=MZ-DIBAO")
    assert "申请材料清单" in text(page) and "家庭收入证明" in text(page)
    form = new_case_form(sqlite_services, applicant(DONGPO), MATERIALS[:2], "accept")
    refused = post(client, "/cases/new", form)
    assert refused.status_code == 422 and any("缺少家庭收入证明" in line for line in summary(refused))
    registered = post(client, "/cases/new", form | {"outcome": "supplement", "m2_note": "须村委会盖章"},
                      follow_redirects=True)
    shown = text(registered)
    assert "已出具一次性告知书" in shown and "待补正" in shown and "家庭收入证明 （须村委会盖章）" in shown
    case_url = registered.request.path
    again = post(client, f"{case_url}/window", ticked(MATERIALS[:2], "supplement"))
    assert again.status_code == 409 and "须一次性告知全部材料" in text(again)
    accepted = post(client, f"{case_url}/window", ticked([*MATERIALS[:3], MATERIALS[4]], "accept"),
                    follow_redirects=True)
    assert "已受理，办件编号" in text(accepted) and "办理中" in text(accepted)


def test_refusal_reaches_the_register_of_the_supervisor(app: Flask, sqlite_services: Services) -> None:  # noqa: F811
    clerk, supervisor = app.test_client(), app.test_client()
    login(clerk, "dongpo_agent")
    person = applicant(DONGPO) | {"name": "阿依古丽·买买提"}
    form = new_case_form(sqlite_services, person, MATERIALS, "refuse", reasons="申请人户籍不在本村，不属本机关受理范围",
                         basis="《社会救助暂行办法》第十一条")
    done = post(clerk, "/cases/new", form, follow_redirects=True)
    assert "不予受理" in text(done) and "申请人户籍不在本村" in text(done)
    login(supervisor, "supervisor")
    register = supervisor.get("/supervision/refusals")
    assert register.status_code == 200
    assert "阿依古丽·买买提" in text(register) and "《社会救助暂行办法》第十一条" in text(register)
    assert clerk.get("/supervision/refusals").status_code == 403


def test_intake_list_shows_received_applications_with_section32(client: FlaskClient,  # noqa: F811
                                                                 sqlite_services: Services) -> None:
    login(client, "dongpo_agent")
    person = applicant(DONGPO) | {"name": "John O'Neil"}
    post(client, "/cases/new", new_case_form(sqlite_services, person, MATERIALS[:1], "receive"))
    clock.set_now(datetime(2026, 3, 5, 10, 0, tzinfo=clock.SHANGHAI))
    listing = text(client.get("/intake"))
    assert "John O'Neil" in listing and "收件待审" in listing and "2026-03-09 视为受理" in listing


def test_duplicate_application_refused_on_the_form(client: FlaskClient,  # noqa: F811
                                                   sqlite_services: Services) -> None:
    login(client, "dongpo_agent")
    person = applicant(DONGPO)
    first = post(client, "/cases/new", new_case_form(sqlite_services, person, MATERIALS, "accept"))
    assert first.status_code == 302
    second = post(client, "/cases/new", new_case_form(sqlite_services, person, MATERIALS, "accept"))
    assert second.status_code == 422 and any("不能重复申请" in line for line in summary(second))


# -- the API ------------------------------------------------------------------------------------------


def api_start(api: FlaskClient, svc: Services, person: dict[str, str], intake: dict[str, Any] | None) -> Any:
    with svc.db.read() as session:
        version = current_version(session, "MZ-DIBAO")
        data = fill(version.forms[version.guide["application_form"]])
    body = {"item_code": "MZ-DIBAO", "village_code": DONGPO, "applicant": person, "data": data,
            **({"intake": intake} if intake is not None else {})}
    return api.post("/api/v1/cases", json=body, headers=auth(svc, "dongpo_agent"))


def api_ticks(*missing: str) -> list[dict[str, Any]]:
    return [{"name": name, "received": name not in missing, "copies": 1} for name in MATERIALS]


def test_api_notice_return_and_the_intake_record(services: Services) -> None:
    api = make_client(services)
    headers = auth(services, "dongpo_agent")
    made = api_start(api, services, applicant(DONGPO),
                     {"materials": api_ticks("家庭收入证明"), "outcome": "supplement",
                      "notes": {"家庭收入证明": "近12个月收入，村委会盖章"}})
    assert made.status_code == 201 and made.json["status"] == "supplement" and made.json["tasks"] == []
    case_id = made.json["id"]
    record = api.get(f"/api/v1/cases/{case_id}/intake", headers=headers).json
    assert record["notice_missing"] == [{"name": "家庭收入证明", "note": "近12个月收入，村委会盖章"}]
    again = api.post(f"/api/v1/cases/{case_id}/window", headers=headers,
                        json={"materials": api_ticks("家庭收入证明"), "outcome": "supplement"})
    assert again.status_code == 409 and "一次性告知书已于" in again.json["error"]
    accepted = api.post(f"/api/v1/cases/{case_id}/window", headers=headers, json={"materials": api_ticks()})
    assert accepted.status_code == 200 and accepted.json["status"] == "running" and accepted.json["tasks"]
    assert accepted.json["case_number"] == made.json["case_number"]


def test_api_duplicate_refused_and_names_checked(services: Services) -> None:
    api = make_client(services)
    person = applicant(DONGPO)
    first = api_start(api, services, person, None)
    assert first.status_code == 201 and first.json["status"] == "running"
    second = api_start(api, services, person, None)
    assert second.status_code == 409 and first.json["case_number"] in second.json["error"]
    odd = api_start(api, services, applicant(DONGPO) | {"name": "王秀兰2"}, None)
    assert odd.status_code == 422 and "只能是汉字" in odd.json["error"]
    refused = api_start(api, services, applicant(DONGPO),
                        {"outcome": "refuse", "reasons": "不属本机关职权范围",
                         "basis": "《行政许可法》第三十二条第一款第二项"})
    assert refused.status_code == 201 and refused.json["status"] == "not_accepted"


def test_immediate_item_accepted_and_completed_on_one_screen(client: FlaskClient) -> None:  # noqa: F811
    login(client, "dongpo_agent")
    page = text(client.get("/cases/new?item=MZ-YOUDAI"))
    assert "办理决定" in page and "受理并办结" in page
    person = applicant(DONGPO) | {"name": "欧阳秀英"}
    form = {"item": "MZ-YOUDAI", "applicant_name": person["name"], "applicant_id_number": person["id_number"],
            "applicant_phone": person["phone"], "outcome": "accept", "f-age": "72", "f-household_here": "true",
            "f-handle_decision": "approve", "f-handle_opinion": "身份证与照片核对无误，当场发证",
            "m0_copies": "1", "m0_received": "on", "m0_original": "on", "m1_copies": "1", "m1_received": "on"}
    done = post(client, "/cases/new", form, follow_redirects=True)
    shown = text(done)
    assert "已当场受理并办结" in shown and "已办结" in shown
