"""Documents on the web and in the API: the case page's card, the printable page, the PDF, and who may see them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import clock
from engine.models import Case
from engine.services import Services
from tests.conftest import TEST_START, make_services
from tests.test_api import auth
from tests.test_documents import documents, pdf_text
from tests.test_engine import start
from tests.test_webui import login, text
from tests.test_zhaijidi import do, review, to_reviews
from webui import create_app


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, Flask, int]]:
    """A 宅基地 case refused by the county (its 农用地转用), its decision issued, served from a folder of its own."""
    clock.set_now(TEST_START)
    folder = tmp_path_factory.mktemp("documents-web")
    svc = make_services("sqlite", folder, "bianmin_documents_web")
    svc = dataclasses.replace(svc, settings=dataclasses.replace(svc.settings, attachments_dir=folder / "attachments"))
    case = start(svc, "ZR-ZHAIJIDI", name="欧阳晓明")
    to_reviews(svc, case.id)
    review(svc, case.id, {"land_survey": {"involves_farmland": "yes"}})
    do(svc, case.id, "farmland_conversion", county_decision="reject")
    yield svc, create_app(svc, {"TESTING": True}), case.id
    svc.db.dispose()


def client_for(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    login(client, username)
    return client


def test_the_case_page_lists_the_decision_and_links_its_page_and_pdf(setup: tuple[Services, Flask, int]) -> None:
    svc, app, case_id = setup
    [decision] = documents(svc, case_id)
    page = client_for(app, "dongpo_agent").get(f"/cases/{case_id}")
    assert page.status_code == 200
    html = lxml.html.fromstring(page.get_data(as_text=True))
    [row] = html.xpath('//table[@id="document-list"]/tbody/tr')
    assert row.get("data-kind") == "refusal_decision"
    assert "不予许可决定书" in row.text_content() and decision.number in row.text_content()
    assert row.xpath(".//a/@href") == [f"/cases/{case_id}/documents/{decision.id}",
                                       f"/cases/{case_id}/documents/{decision.id}.pdf"]


def test_the_printable_page_is_the_sheet_alone_with_a_print_button(setup: tuple[Services, Flask, int]) -> None:
    svc, app, case_id = setup
    [decision] = documents(svc, case_id)
    response = client_for(app, "dongpo_agent").get(f"/cases/{case_id}/documents/{decision.id}")
    assert response.status_code == 200
    html = lxml.html.fromstring(response.get_data(as_text=True))
    assert not html.xpath("//nav") and not html.xpath('//*[contains(@class, "topbar")]')
    assert html.xpath('//button[@id="print-report"]/text()') == ["打印"]
    assert html.xpath("//script/@src") == ["/static/report.js"] and not html.xpath("//script[not(@src)]")
    shown = text(response)
    assert "如不服本决定" in shown and "60 日内向青山县人民政府申请行政复议" in shown
    assert "青山县自然资源局" in shown and "本机关决定不予许可" in shown


def test_handlers_get_the_issued_pdf_and_others_a_masked_copy(setup: tuple[Services, Flask, int]) -> None:
    svc, app, case_id = setup
    [decision] = documents(svc, case_id)
    with svc.db.read() as session:
        number = session.get(Case, case_id).applicant_id_number
    url = f"/cases/{case_id}/documents/{decision.id}.pdf"
    for username, shown in (("dongpo_agent", number), ("qingshui_civil", f"{number[:6]}********{number[-4:]}")):
        response = client_for(app, username).get(url)
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        path = Path(svc.settings.attachments_dir) / f"{username}.pdf"
        path.write_bytes(response.data)
        text_of_pdf = pdf_text(path)
        assert shown in text_of_pdf and "行政诉讼" in text_of_pdf
        assert (number in text_of_pdf) == (username == "dongpo_agent")
    # Two cached files: the issued copy and the masked one, never one served for the other.
    assert len(list((Path(svc.settings.attachments_dir) / "documents").glob(f"{decision.id}-*.pdf"))) == 2
    # Outside the case's town the document does not exist, as the case does not.
    assert client_for(app, "shiqiao_window").get(url).status_code == 404
    assert client_for(app, "shiqiao_window").get(f"/cases/{case_id}/documents/{decision.id}").status_code == 404


def test_the_api_lists_documents_and_serves_their_pdf(setup: tuple[Services, Flask, int]) -> None:
    svc, app, case_id = setup
    client = app.test_client()
    response = client.get(f"/api/v1/cases/{case_id}/documents", headers=auth(svc, "dongpo_agent"))
    assert response.status_code == 200
    [listed] = response.json["documents"]
    assert listed["kind"] == "refusal_decision" and listed["issuer"] == "青山县自然资源局"
    assert listed["facts"]["rights"]["review_days"] == 60 and listed["facts"]["rights"]["litigation_months"] == 6
    pdf = client.get(listed["pdf_url"], headers=auth(svc, "dongpo_agent"))
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get(f"/api/v1/cases/{case_id}/documents", headers=auth(svc, "shiqiao_window")).status_code == 404
    assert client.get(f"/api/v1/cases/{case_id}/documents/999999.pdf",
                      headers=auth(svc, "dongpo_agent")).status_code == 404
