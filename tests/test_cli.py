"""The `bianmin` command as an administrator runs it, against a database of its own."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from cryptography.fernet import Fernet

from engine import clock, democlock, secrets
from engine.config import ROOT
from engine.models import Case, Secret
from tests.conftest import make_services
from tests.test_calendar_provisional import NOTICE_2027
from tests.test_engine import start
from webui.cli import main


def test_calendar_load_enters_a_year_and_recounts_provisional_dates(tmp_path: Path) -> None:
    svc = make_services("sqlite", tmp_path, "bianmin_cli")
    clock.set_now(datetime(2026, 12, 1, 10, 0, tzinfo=clock.SHANGHAI))
    case = start(svc)
    assert case.promised_date == date(2027, 1, 13) and case.promised_provisional
    runner = CliRunner()
    env = {"BIANMIN_DATABASE_URL": svc.db.url}

    broken = tmp_path / "broken.toml"
    broken.write_text('[2027]\nholidays = [["2027-13-01", "元旦"]]\n', "utf-8")
    result = runner.invoke(main, ["calendar", "load", str(broken)], env=env)
    assert result.exit_code == 1
    assert "节假日安排有误，未录入任何数据" in result.output and "缺少 source" in result.output
    assert "“2027-13-01”不是有效日期" in result.output

    notice = tmp_path / "2027.toml"
    notice.write_text(NOTICE_2027, "utf-8")
    result = runner.invoke(main, ["calendar", "load", str(notice)], env=env)
    assert result.exit_code == 0, result.output
    assert "已录入 2027 年节假日安排" in result.output and "按新日历重算预计期限的办件：1 件" in result.output
    with svc.db.read() as session:
        assert not session.get(Case, case.id).promised_provisional
    listed = runner.invoke(main, ["calendar", "list"], env=env).output
    assert "2026\t国办发明电〔2025〕7号" in listed
    assert "2027\t测试用通知（按法定节假日和惯常调休编写）\t放假 29 天，调休上班 3 天" in listed

    again = runner.invoke(main, ["calendar", "load", str(notice)], env=env)
    assert again.exit_code == 1 and "--replace" in again.output
    assert runner.invoke(main, ["calendar", "load", "--replace", str(notice)], env=env).exit_code == 0
    svc.db.dispose()


def test_deploy_prints_warnings_and_reads_the_diagram_limit_from_settings(tmp_path: Path) -> None:
    svc = make_services("sqlite", tmp_path, "bianmin_cli_deploy")
    folder = tmp_path / "dibao"
    shutil.copytree(ROOT / "bpmn" / "dibao", folder)
    item, diagram = folder / "item.toml", folder / "process.bpmn"
    item.write_text(item.read_text("utf-8").replace('code = "MZ-DIBAO"', 'code = "CLI-DIBAO"'), "utf-8")
    diagram.write_text(diagram.read_text("utf-8").replace('town_decision == "approve"', 'town_desicion == "approve"'),
                       "utf-8")
    runner = CliRunner()
    env = {"BIANMIN_DATABASE_URL": svc.db.url}

    small = runner.invoke(main, ["deploy", str(folder)], env={**env, "BIANMIN_MAX_DIAGRAM_KB": "8"})
    assert small.exit_code == 1 and "dibao/process.bpmn：流程图文件过大，上限为 8 KB" in small.output

    result = runner.invoke(main, ["deploy", str(folder)], env=env)
    assert result.exit_code == 0, result.output
    assert "已部署 CLI-DIBAO v1（新版本）" in result.output
    assert ("提示：dibao/process.bpmn：Flow_town_approve（符合，拟纳入）：条件表达式读取的变量“town_desicion”"
            in result.output)
    svc.db.dispose()


def test_clock_advance_moves_a_demo_database_and_refuses_a_production_one(tmp_path: Path) -> None:
    clock.reset()
    runner = CliRunner()
    svc = make_services("sqlite", tmp_path, "bianmin_demo_clock")  # made as the tests make it: a demo database
    env = {"BIANMIN_DATABASE_URL": svc.db.url}
    before = clock.now()
    moved = runner.invoke(main, ["clock", "advance", "8d"], env=env)
    assert moved.exit_code == 0, moved.output
    assert "比实际时间快 8 天 0 小时" in moved.output
    assert runner.invoke(main, ["clock", "advance", "2w"], env=env).exit_code == 0
    assert "比实际时间快 23 天 12 小时" in runner.invoke(main, ["clock", "advance", "36h"], env=env).output
    # Another process (here: a fresh read, as the server and the scheduler do) sees the same moved time.
    clock.reset()
    democlock.refresh(svc.db)
    assert timedelta(days=23, hours=12) <= clock.now() - before < timedelta(days=23, hours=13)
    bad = runner.invoke(main, ["clock", "advance", "8 天"], env=env)
    assert bad.exit_code == 1 and "不是有效的时长" in bad.output
    assert "比实际时间快 0 小时" in runner.invoke(main, ["clock", "reset"], env=env).output
    assert clock.now() - before < timedelta(hours=1)
    svc.db.dispose()

    production = f"sqlite:///{tmp_path / 'production.db'}"
    assert runner.invoke(main, ["init"], env={"BIANMIN_DATABASE_URL": production}).exit_code == 0
    refused = runner.invoke(main, ["clock", "advance", "8d"], env={"BIANMIN_DATABASE_URL": production})
    assert refused.exit_code == 1 and "这是正式数据库，时钟不可调整" in refused.output
    shown = runner.invoke(main, ["clock", "show"], env={"BIANMIN_DATABASE_URL": production})
    assert "正式数据库" in shown.output and abs(clock.now() - before) < timedelta(hours=1)


def test_secret_is_stored_encrypted_from_the_prompt_and_never_printed(tmp_path: Path) -> None:
    svc = make_services("sqlite", tmp_path, "bianmin_cli_secret")
    runner = CliRunner()
    key = Fernet.generate_key().decode()
    env = {"BIANMIN_DATABASE_URL": svc.db.url, "BIANMIN_SECRETS_KEY": key}
    value = "短信网关-Key-7f3a9c"
    result = runner.invoke(main, ["secret", "sms_gateway_key"], input=f"{value}\n{value}\n", env=env)
    assert result.exit_code == 0, result.output
    assert value not in result.output and "已保存机密“sms_gateway_key”" in result.output
    with svc.db.read() as session:
        assert value not in session.get(Secret, "sms_gateway_key").ciphertext
    settings = replace(svc.settings, secrets_key=key)
    assert secrets.reader(svc.db, settings).get("sms_gateway_key") == value
    # A clerk's account may not set one.
    refused = runner.invoke(main, ["secret", "x", "--by", "dongpo_agent"], input="v\nv\n", env=env)
    assert refused.exit_code != 0 and "不是系统管理员" in refused.output
