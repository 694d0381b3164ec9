"""The `bianmin` command as an administrator runs it, against a database of its own."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from click.testing import CliRunner

from engine import clock
from engine.config import ROOT
from tests.conftest import make_services
from tests.test_engine import NOTICE_2027, start
from webui.cli import main


def test_calendar_load_enters_a_year_and_dates_waiting_cases(tmp_path: Path) -> None:
    svc = make_services("sqlite", tmp_path, "bianmin_cli")
    clock.set_now(datetime(2026, 12, 1, 10, 0, tzinfo=clock.SHANGHAI))
    case = start(svc)
    assert case.promised_date is None
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
    assert "已录入 2027 年节假日安排" in result.output and f"1 件（{case.case_number}）" in result.output
    listed = runner.invoke(main, ["calendar", "list"], env=env).output
    assert "2026\t国办发明电〔2025〕7号" in listed and "2027\t测试用通知\t1 个调整日" in listed

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
    assert "提示：dibao/process.bpmn：Flow_town_approve（同意）：条件表达式读取的变量“town_desicion”" in result.output
    svc.db.dispose()
