"""Histories altered, deleted, inserted and reordered in the database: the desk's 核验 and 全部核验 pages and the case
page name the exact event and link to it in the replay; a tampered system event shows on 全部核验 (both databases)."""

from __future__ import annotations

import re
from typing import Any

import lxml.html
import pytest
from flask.testing import FlaskClient

from engine.models import Case
from engine.services import Services
from tests.tampering import HOW, case_tampering, system_chain, system_rows, system_tampering  # noqa: F401  (fixture)
from tests.test_chain import case  # noqa: F401  (fixture)
from tests.test_webui import login
from webui import create_app

# How `case_tampering` words what `bianmin audit verify` prints: 第 N 条 [kind] message (the message may be cut short).
PRINTED = re.compile(r"第 (\d+) 条 \[(\w+)\]\s*(.*)")


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return create_app(services=services, config={"TESTING": True}).test_client()


def expected_findings(lines: list[str]) -> list[tuple[int, str, str]]:
    found = []
    for line in lines:
        matched = PRINTED.match(line)
        assert matched, line
        found.append((int(matched[1]), matched[2], matched[3]))
    return found


def page(client: FlaskClient, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return lxml.html.fromstring(response.get_data(as_text=True))


def words(node: Any) -> str:
    return " ".join(node.text_content().split())


@pytest.mark.parametrize("who", ["auditor", "supervisor"])
@pytest.mark.parametrize("how", HOW)
def test_verifying_one_case_names_the_tampered_event(client: FlaskClient, services: Services,
                                                     case: Case, how: str, who: str) -> None:  # noqa: F811
    expected = expected_findings(case_tampering(services, case, how))
    login(client, who)
    shown = page(client, f"/audit/cases/{case.id}/verify")
    [result] = shown.xpath("//*[@id='verify-result']")
    assert result.get("data-intact") == "false" and "有断裂" in words(result)
    [first] = shown.xpath("//*[@id='first-finding']")
    seq, kind, message = expected[0]
    assert first.get("data-seq") == str(seq)
    assert first.xpath(".//*[@data-break]")[0].get("data-break") == kind
    assert message in words(first) and f"第 {seq} 条" in words(first)
    assert first.xpath(".//a[@class='finding-link']/@href") == [f"/cases/{case.id}/replay?at={seq}"]
    if len(expected) > 1:
        listed = shown.xpath("//*[@id='all-findings']/li")
        named = [(int(li.get("data-seq")), li.xpath(".//*[@data-break]/@data-break")[0]) for li in listed]
        # Every break the command line names is listed (an insertion also shifts the rows after it).
        assert all((seq, kind) in named for seq, kind, _ in expected)
    # The case page says so too, in red, and leads to the desk's finding.
    [badge] = page(client, f"/cases/{case.id}").xpath("//*[@id='chain-state']")
    assert badge.get("data-intact") == "false" and "badge-danger" in badge.get("class")
    assert words(badge).startswith(f"记录被改动：第 {seq} 条")
    assert badge.get("href") == f"/audit/cases/{case.id}/verify"


@pytest.mark.parametrize("how", HOW)
def test_verifying_everything_lists_the_broken_case_with_its_first_finding(
        client: FlaskClient, services: Services, case: Case, how: str) -> None:  # noqa: F811
    expected = expected_findings(case_tampering(services, case, how))
    login(client, "auditor")
    shown = page(client, "/audit/verify-all")
    [row] = shown.xpath(f"//table[@id='broken-cases']//tr[@data-case-number='{case.case_number}']")
    seq, kind, message = expected[0]
    assert row.get("data-seq") == str(seq)
    assert row.xpath(".//*[@data-break]/@data-break") == [kind]
    assert message in words(row)
    assert row.xpath(".//a[@class='finding-link']/@href") == [f"/cases/{case.id}/replay?at={seq}"]
    tiles = {tile.get("data-measure"): int(tile.xpath(".//*[@class='tile-n']")[0].text)
             for tile in shown.xpath("//*[@id='verify-totals']//*[@data-measure]")}
    assert tiles["broken"] >= 1 and tiles["checked"] == tiles["intact"] + tiles["broken"]
    assert "用时" in words(shown.xpath("//*[@id='verify-time']")[0])
    assert shown.xpath("//*[@id='system-chain']/@data-intact") == ["true"]


def test_an_intact_case_shows_its_count_and_head(client: FlaskClient, services: Services,
                                                 case: Case) -> None:  # noqa: F811
    with services.db.read() as session:
        head = session.get(Case, case.id)
        assert head is not None
        last_hash = head.last_event_hash
    login(client, "auditor")
    shown = page(client, f"/audit/cases/{case.id}/verify")
    assert shown.xpath("//*[@id='verify-result']/@data-intact") == ["true"]
    assert shown.xpath("//*[@id='verify-count']")[0].text == "7"
    assert shown.xpath("//*[@id='verify-hash']")[0].text == last_hash[:16] + "…"
    [badge] = page(client, f"/cases/{case.id}").xpath("//*[@id='chain-state']")
    assert words(badge) == "记录完整 · 7 条" and badge.get("data-intact") == "true"


@pytest.mark.parametrize("how", HOW)
def test_a_tampered_system_event_shows_on_verify_everything(client: FlaskClient, services: Services,
                                                          system_chain: list[dict[str, Any]],  # noqa: F811
                                                          how: str) -> None:
    login(client, "auditor")  # before tampering: the sign-in itself goes on the system chain
    expected = system_tampering(services, system_rows(services), how)
    shown = page(client, "/audit/verify-all")
    assert shown.xpath("//*[@id='system-chain']/@data-intact") == ["false"]
    listed = [(li.xpath(".//*[@data-break]/@data-break")[0], int(li.get("data-seq")))
              for li in shown.xpath("//*[@id='system-findings']/li")]
    assert listed == [(kind, seq) for kind, seq, _ in expected]
    assert f"第 {expected[0][1]} 条" in words(shown.xpath("//*[@id='system-findings']")[0])
