"""A province's code table for 办件信息上报: field names and state codes, read from TOML, refused when incomplete."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import NotConfigured

# Our fields a table may map to the platform's names; a field the table leaves out never leaves the system.
FIELDS = {
    "case_number": "办件编号", "item_code": "事项编码", "item_name": "事项名称", "applicant_name": "申请人姓名",
    "applicant_id_number": "申请人证件号码", "applicant_phone": "申请人联系电话", "organ": "受理机构名称",
    "organ_code": "受理机构行政区划代码", "accepted_at": "受理时间", "promised_date": "承诺办结日期",
    "decided_at": "办结时间", "refusal_reasons": "不予受理理由", "state": "受理状态代码", "result": "办结结果代码",
    "state_at": "本次状态的时间",
}
REQUIRED_FIELDS = ("case_number", "state", "result")
# 办结 keeps the 受理 code in the state field unless the table gives one of its own (`decided`); a case an
# administrator cancels is reported only where the table has a code for it (`cancelled`), as not every platform does.
STATES = {"accepted": "受理", "supplement": "补正", "refused": "不予受理"}
OPTIONAL_STATES = {"decided": "办结", "cancelled": "撤销"}
# A procedure's own result codes may be added; a result the table does not list is reported as `completed`.
RESULTS = {"approved": "准予（批准）", "rejected": "不予批准", "completed": "办结（其他）"}
SOURCE = {"title": "接口标准名称", "issued_by": "发布机关"}
FORMATS = {"time": "%Y-%m-%dT%H:%M:%S+08:00", "date": "%Y-%m-%d"}


@dataclass(frozen=True)
class CodeTable:
    """Where the codes come from, our field → the platform's field, and the codes of our states and results."""

    title: str
    issued_by: str
    fields: Mapping[str, str]
    states: Mapping[str, str]
    results: Mapping[str, str]
    time_format: str = FORMATS["time"]
    date_format: str = FORMATS["date"]


def load(path: Path) -> CodeTable:
    """The table at `path`; anything missing or malformed is named in one Chinese message and the process stops."""
    where = f"办件信息上报代码对照表 {path}"
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise NotConfigured(f"{where} 不存在（BIANMIN_CASE_REPORT_CODES），服务未启动") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise NotConfigured(f"{where} 无法读取或不是有效的 TOML：{exc}，服务未启动") from None
    problems: list[str] = []
    source = _section(raw, "source", problems)
    fields = _section(raw, "fields", problems)
    states = _section(raw, "state", problems)
    results = _section(raw, "result", problems)
    formats = _section(raw, "format", problems, required=False)
    _codes("source", source, SOURCE, {}, problems, extra=True)
    _codes("fields", fields, {name: FIELDS[name] for name in REQUIRED_FIELDS}, FIELDS, problems)
    _codes("state", states, STATES, OPTIONAL_STATES, problems)
    _codes("result", results, RESULTS, {}, problems, extra=True)
    _codes("format", formats, {}, {"time": "时间格式", "date": "日期格式"}, problems)
    named = [value for value in fields.values() if isinstance(value, str)]
    doubled = sorted({value for value in named if named.count(value) > 1})
    if doubled:
        problems.append(f"[fields] 中平台字段名 {'、'.join(doubled)} 被用了不止一次")
    if problems:
        raise NotConfigured(f"{where} 不完整或有误：" + "；".join(problems) + "，服务未启动")
    return CodeTable(source["title"], source["issued_by"], dict(fields), dict(states), dict(results),
                     formats.get("time", FORMATS["time"]), formats.get("date", FORMATS["date"]))


def _section(raw: dict[str, Any], name: str, problems: list[str], *, required: bool = True) -> dict[str, Any]:
    value = raw.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        problems.append(f"缺少 [{name}] 表" if value is None else f"[{name}] 应为表")
        return {}
    return value


def _codes(section: str, values: dict[str, Any], required: Mapping[str, str], optional: Mapping[str, str],
           problems: list[str], *, extra: bool = False) -> None:
    """Every required key present, every value a non-empty string, no key the section does not know."""
    missing = [f"{key}（{label}）" for key, label in required.items() if key not in values]
    if missing:
        problems.append(f"[{section}] 缺少 {'、'.join(missing)}")
    for key, value in values.items():
        if not extra and key not in required and key not in optional:
            problems.append(f"[{section}] 中的 {key} 不是可用的项（可用：{'、'.join({**required, **optional})}）")
        elif not isinstance(value, str) or not value.strip():
            problems.append(f"[{section}] 的 {key} 应为非空字符串（代码请加引号）")
