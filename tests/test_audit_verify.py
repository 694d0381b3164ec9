"""`bianmin audit verify` and the system chain's verifier name the exact event altered, deleted, inserted or moved."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner, Result

from engine.models import Case
from engine.services import Services
from tests.tampering import HOW, case_tampering, system_chain, system_found, system_tampering  # noqa: F401  (fixture)
from tests.test_chain import case  # noqa: F401  (fixture)
from webui.cli import main


def verify(svc: Services, *args: str) -> Result:
    return CliRunner().invoke(main, ["audit", "verify", *args], env={"BIANMIN_DATABASE_URL": svc.db.url})


def test_an_intact_county_verifies_and_exits_0(services: Services, case: Case) -> None:  # noqa: F811
    result = verify(services)
    assert result.exit_code == 0, result.output
    assert "，0 个有断裂；系统记录完好" in result.output
    one = verify(services, "--case", case.case_number)
    assert one.exit_code == 0 and "已核验 1 个办件：1 个完好，0 个有断裂" in one.output
    missing = verify(services, "--case", "不存在-0001")
    assert missing.exit_code == 2 and "没有编号为 不存在-0001 的办件" in missing.output


@pytest.mark.parametrize("how", HOW)
def test_audit_verify_names_the_tampered_case_event(services: Services, case: Case, how: str) -> None:  # noqa: F811
    expected = case_tampering(services, case, how)
    for args in ((), ("--case", case.case_number)):
        result = verify(services, *args)
        assert result.exit_code == 1, result.output
        assert f"办件 {case.case_number} 的记录有断裂：" in result.output
        for line in expected:
            assert line in result.output
        assert "1 个有断裂" in result.output


@pytest.mark.parametrize("how", HOW)
def test_the_system_chain_names_the_tampered_event(services: Services,
                                                    system_chain: list[dict[str, Any]],  # noqa: F811
                                                    how: str) -> None:
    expected = system_tampering(services, system_chain, how)
    assert system_found(services) == expected
    result = verify(services)
    assert result.exit_code == 1, result.output
    for kind, seq, _ in expected:
        assert f"系统记录 第 {seq} 条 [{kind}]" in result.output
    assert f"系统记录有 {len(expected)} 处断裂" in result.output
