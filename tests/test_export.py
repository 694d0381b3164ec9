"""A case's exported history: verified offline by a copy of links.py under a plain Python, which names each event
altered, deleted, inserted or moved in the file or in the database before export; who may export; the CLI."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.audit import export, links
from engine.config import ROOT
from engine.models import Case, DataReveal, SystemEvent
from engine.services import Services
from tests.tampering import HOW, case_tampering, system_chain, system_tampering  # noqa: F401  (fixture)
from tests.test_api import auth, make_client
from tests.test_chain import case  # noqa: F401  (fixture)
from tests.test_webui import login, post
from webui.cli import main

# Debian's own interpreter, outside the project's virtualenv: the verifier must need nothing but the standard library.
PLAIN_PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else shutil.which("python3") or "python3"

# What the offline verifier must print for each tampering of the seven-event case: the same places whether the
# file was edited or the database was before exporting (each line: seq, its place in the file, what is wrong).
MOVED = "条记录：记录的顺序被调换过"
EXPECTED = {
    "alter": ["第 6 条（文件中第 6 项） [altered] 第 6 条记录被改动过：内容与其哈希不符"],
    "delete": ["第 4 条 [missing] 第 4 条记录缺失：已被删除"],
    # The inserted event, and each one after it, now one place later than it was written at.
    "insert": ["第 4 条（文件中第 4 项） [inserted] 第 4 条记录与另一条记录同占第 4 条的位置，且不在哈希链上，是插入的",
               *(f"第 {n} 条（文件中第 {n} 项） [out_of_order] 第 {n} 条位置上是原第 {n - 1} {MOVED}"
                 for n in range(5, 9))],
    "reorder": [f"第 3 条（文件中第 3 项） [out_of_order] 第 3 条位置上是原第 5 {MOVED}",
                f"第 5 条（文件中第 5 项） [out_of_order] 第 5 条位置上是原第 3 {MOVED}"],
}


def breaks(result: subprocess.CompletedProcess[str], number: str) -> list[str]:
    """The verifier's lines naming each break, after its heading (which must count them)."""
    heading, *lines = result.stdout.splitlines()
    assert heading == f"{number} 记录有 {len(lines)} 处断裂：", result.stdout
    return [line.strip() for line in lines]


def exported(svc: Services, case_id: int) -> dict[str, Any]:
    with svc.db.read() as session:
        return export.document(session, case_id, export.exporter("审计员", "auditor"))


def offline(tmp: Path, document: dict[str, Any] | str) -> subprocess.CompletedProcess[str]:
    """Copy the verifier alone into `tmp` with the file, and run it there as an auditor would."""
    shutil.copy(ROOT / "engine" / "audit" / "links.py", tmp / "links.py")
    text = document if isinstance(document, str) else export.dumps(document)
    (tmp / "history.json").write_text(text, encoding="utf-8")
    return subprocess.run([PLAIN_PYTHON, "-I", "links.py", "history.json"], cwd=tmp, capture_output=True,
                          text=True, timeout=60, check=False)


def test_an_export_reads_back_intact_offline(services: Services, case: Case, tmp_path: Path) -> None:  # noqa: F811
    document = exported(services, case.id)
    assert links.read_export(json.loads(export.dumps(document))) == []
    head, events = document["case"], document["events"]
    assert head["case_number"] == case.case_number and head["item"]["code"] == "CHAIN-DIBAO"
    assert head["applicant"]["id_number"] != case.applicant_id_number
    assert re.fullmatch(r"\d{6}\*{8}\d{3}[\dX]", head["applicant"]["id_number"])
    assert head["village"]["name"] == "东坡村" and head["town"]["name"] == "清水镇"
    assert [e["seq"] for e in events] == list(range(1, 8)) and document["head"]["event_count"] == 7
    # Each event carries exactly what its hash covers, `at` written as the hash wrote it.
    for event in events:
        assert links.digest(event["prev_hash"], event, links.CASE_KEYS, links.CASE_OPTIONAL) == event["hash"]
        assert event["at"].endswith("+00:00")
    assert events[2]["readable"]["post_name"] == "东坡村 村委会"
    assert document["verify"]["command"] == f"python3 links.py {case.case_number}-history.json"

    result = offline(tmp_path, document)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == (f"{case.case_number} 记录完好：共 7 条，末条哈希 "
                                     f"{document['head']['last_event_hash']}")


def tamper_file(document: dict[str, Any], how: str) -> dict[str, Any]:
    """The exported file edited `how`, as someone holding only the file (and the hashing scheme) could."""
    forged = copy.deepcopy(document)
    events = forged["events"]
    if how == "alter":
        events[5]["actor_name"] = "县民政局"
    elif how == "delete":
        del events[3]
    elif how == "insert":
        extra = copy.deepcopy(events[2]) | {"seq": 4, "prev_hash": events[2]["hash"], "actor_name": "他人"}
        extra["hash"] = links.digest(extra["prev_hash"], extra, links.CASE_KEYS, links.CASE_OPTIONAL)
        for event in events[3:]:
            event["seq"] += 1
        events.insert(3, extra)
    else:
        events[2]["seq"], events[4]["seq"] = 5, 3
        events[2], events[4] = events[4], events[2]
    return forged


@pytest.mark.parametrize("how", ["alter", "delete", "insert", "reorder"])
def test_the_offline_script_names_the_event_tampered_in_the_file(services: Services, case: Case,  # noqa: F811
                                                                 tmp_path: Path, how: str) -> None:
    result = offline(tmp_path, tamper_file(exported(services, case.id), how))
    assert result.returncode == 1, result.stdout + result.stderr
    assert breaks(result, case.case_number) == EXPECTED[how]


@pytest.mark.parametrize("how", ["alter", "delete", "insert", "reorder"])
def test_an_export_of_a_history_tampered_in_the_database_names_the_event(services: Services, case: Case,  # noqa: F811
                                                                          tmp_path: Path, how: str) -> None:
    case_tampering(services, case, how)
    result = offline(tmp_path, exported(services, case.id))
    assert result.returncode == 1, result.stdout + result.stderr
    assert breaks(result, case.case_number) == EXPECTED[how]


def test_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    result = offline(tmp_path, '{"chain": "case", "events": [')
    assert result.returncode == 2 and "无法读取导出文件" in result.stderr


def test_whoever_sees_the_case_may_export_it_and_nobody_else(services: Services, case: Case) -> None:  # noqa: F811
    for username in ("dongpo_agent", "auditor"):
        web = make_client(services)
        login(web, username)
        download = web.get(f"/cases/{case.id}/export.json")
        if username == "auditor":  # not a handler: the file holds the numbers in clear, so a reason first
            assert download.status_code == 403 and "请在办件页的“导出记录”中选择理由" in download.get_data(as_text=True)
            download = post(web, f"/cases/{case.id}/export.json", {"reason": "审计核查"})
        assert download.status_code == 200, username
        assert download.mimetype == "application/json"
        assert f"{case.case_number}-history.json" in download.headers["Content-Disposition"]
        body = json.loads(download.get_data(as_text=True))
        assert links.read_export(body) == [] and body["exported_by"].endswith(f"（{username}）")
        report = web.get(f"/cases/{case.id}/report")
        assert report.status_code == 200 and case.case_number in report.get_data(as_text=True)
        api = make_client(services).get(f"/api/v1/cases/{case.id}/export?reason=审计核查",
                                        headers=auth(services, username))
        assert api.status_code == 200 and links.read_export(api.get_json()) == []
    # Another village's agent and another town's staff: the case answers as if it did not exist.
    for username in ("hewan_agent", "shiqiao_leader"):
        web = make_client(services)
        login(web, username)
        for url in (f"/cases/{case.id}/export.json", f"/cases/{case.id}/report"):
            refused = web.get(url)
            assert refused.status_code == 404 and case.case_number not in refused.get_data(as_text=True)
        api = make_client(services).get(f"/api/v1/cases/{case.id}/export", headers=auth(services, username))
        assert api.status_code == 404 and api.get_json()["error"] == "办件不存在，或不在您的辖区内"
    anonymous = make_client(services)
    assert anonymous.get(f"/cases/{case.id}/export.json").status_code == 302
    assert anonymous.get(f"/api/v1/cases/{case.id}/export").status_code == 401


def test_exporting_a_case_one_does_not_handle_is_a_logged_reveal(services: Services,
                                                                 case: Case) -> None:  # noqa: F811
    web = make_client(services)
    login(web, "auditor")
    assert 'id="reveal-history"' in web.get(f"/cases/{case.id}").get_data(as_text=True)
    refused = post(web, f"/cases/{case.id}/export.json", {"reason": ""})
    assert refused.status_code == 422 and "请选择查看理由" in refused.get_data(as_text=True)
    api = make_client(services)
    unexplained = api.get(f"/api/v1/cases/{case.id}/export", headers=auth(services, "auditor"))
    assert unexplained.status_code == 403 and "reason" in unexplained.get_json()["error"]
    with services.db.read() as session:
        assert session.query(DataReveal).filter_by(case_id=case.id).count() == 0
    assert post(web, f"/cases/{case.id}/export.json", {"reason": "其他", "note": "县审计局专项检查"}).status_code == 200
    assert api.get(f"/api/v1/cases/{case.id}/export?reason=审计核查",
                   headers=auth(services, "auditor")).status_code == 200
    with services.db.read() as session:
        logged = session.query(DataReveal).filter_by(case_id=case.id).order_by(DataReveal.id).all()
        assert [(row.field, row.reason, row.note) for row in logged] == [
            ("history", "其他", "县审计局专项检查"), ("history", "审计核查", None)]
        recorded = session.query(SystemEvent).filter_by(kind="data_revealed", subject=case.case_number).all()
        assert [event.after["field"] for event in recorded] == ["history", "history"]
    log = web.get(f"/audit/reveals?case={case.case_number}").get_data(as_text=True)
    assert log.count("办件全部记录（导出文件，个人信息未遮盖）") == 2
    # Whoever handles the case downloads it without a reason, and nothing is logged.
    handler = make_client(services)
    login(handler, "dongpo_agent")
    assert 'id="export-link"' in handler.get(f"/cases/{case.id}").get_data(as_text=True)
    assert handler.get(f"/cases/{case.id}/export.json").status_code == 200
    with services.db.read() as session:
        assert session.query(DataReveal).filter_by(case_id=case.id).count() == 2


def test_bianmin_audit_export_writes_the_file(services: Services, case: Case, tmp_path: Path) -> None:  # noqa: F811
    target = tmp_path / "out" / "case.json"
    target.parent.mkdir()
    env = {"BIANMIN_DATABASE_URL": services.db.url}
    result = CliRunner().invoke(main, ["audit", "export", case.case_number, "-o", str(target)], env=env)
    assert result.exit_code == 0, result.output
    assert f"已导出办件 {case.case_number} 的 7 条记录到 {target}" in result.output
    written = json.loads(target.read_text(encoding="utf-8"))
    assert links.read_export(written) == [] and written["exported_by"] == "命令行（bianmin audit export）"
    checked = offline(tmp_path, target.read_text(encoding="utf-8"))
    assert checked.returncode == 0 and "记录完好：共 7 条" in checked.stdout
    missing = CliRunner().invoke(main, ["audit", "export", "不存在-0001", "-o", str(target)], env=env)
    assert missing.exit_code == 2 and "没有编号为 不存在-0001 的办件" in missing.output


def test_the_report_names_the_first_break_and_lists_every_one(services: Services, case: Case) -> None:  # noqa: F811
    case_tampering(services, case, "insert")
    web = make_client(services)
    login(web, "auditor")
    page = web.get(f"/cases/{case.id}/report").get_data(as_text=True)
    assert "记录有 5 处断裂，第一处：第 4 条 —— 第 4 条记录与另一条记录同占第 4 条的位置" in page
    for n in range(5, 9):
        assert f"第 {n} 条 [out_of_order] 第 {n} 条位置上是原第 {n - 1} {MOVED}" in page


@pytest.mark.parametrize("how", HOW)
def test_the_system_chain_exported_names_each_tampered_event_offline(services: Services, tmp_path: Path,
                                                                    system_chain: list[dict[str, Any]],  # noqa: F811
                                                                    how: str) -> None:
    with services.db.read() as session:
        intact = export.system_document(session, export.exporter("审计员", "auditor"))
    assert intact["chain"] == "system" and offline(tmp_path, intact).returncode == 0
    expected = system_tampering(services, system_chain, how)
    with services.db.read() as session:
        document = export.system_document(session, export.exporter("审计员", "auditor"))
    result = offline(tmp_path, document)
    assert result.returncode == 1, result.stdout + result.stderr
    named = [re.match(r"第 (\d+) 条(?:（文件中第 \d+ 项）)? \[(\w+)\]", line) for line in breaks(result, "系统记录")]
    assert [(match[2], int(match[1])) for match in named if match] == [(kind, seq) for kind, seq, _ in expected]


def test_the_system_record_downloads_for_those_who_check_it(services: Services, tmp_path: Path) -> None:
    web = make_client(services)
    login(web, "auditor")
    assert 'id="system-export-link"' in web.get("/audit/verify-all").get_data(as_text=True)
    download = web.get("/audit/system-history.json")
    assert download.status_code == 200 and "system-history.json" in download.headers["Content-Disposition"]
    body = json.loads(download.get_data(as_text=True))
    assert body["chain"] == "system" and links.read_export(body) == []
    assert any(event["kind"] == "privileged_login" and event["subject"] == "auditor" for event in body["events"])
    clerk = make_client(services)
    login(clerk, "dongpo_agent")
    refused = clerk.get("/audit/system-history.json")
    assert refused.status_code == 403
    assert "只有审计、电子监察和系统管理员可以导出系统记录" in refused.get_data(as_text=True)
    target = tmp_path / "system.json"
    env = {"BIANMIN_DATABASE_URL": services.db.url}
    result = CliRunner().invoke(main, ["audit", "export", "--system", "-o", str(target)], env=env)
    assert result.exit_code == 0 and "已导出系统记录的" in result.output, result.output
    checked = offline(tmp_path, target.read_text(encoding="utf-8"))
    assert checked.returncode == 0 and checked.stdout.startswith("系统记录 记录完好"), checked.stdout
    neither = CliRunner().invoke(main, ["audit", "export"], env=env)
    assert neither.exit_code == 2 and "二者选一" in neither.output
