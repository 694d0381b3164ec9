"""What a diagram's elements say about the clock: the acceptance step, step limits, timer lengths and pauses.

Read here once for deploying (each bad value named) and for running (values deploying let through).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask

ACCEPTANCE = "acceptanceStep"
STEP_LIMIT = "timeLimitWorkingDays"
WORKING_DAYS = "workingDays"
PAUSE = "clockPause"
# Time not counted against the applicant's deadline: 行政许可法 §45 (听证、检验、检测、鉴定、专家评审 …),
# 公示 periods, 补正 (the applicant's own time) and 现场勘察.
PAUSE_REASONS = ("公示", "补正", "现场勘察", "听证", "检验检测", "鉴定", "专家评审")
CLOCK_PROPERTIES = (ACCEPTANCE, STEP_LIMIT, WORKING_DAYS, PAUSE)
TIMER_UNITS = {"calendar": "日历天", "working": "工作日"}


@dataclass(frozen=True)
class TimerLength:
    """How long a timer runs: `days` calendar days (a rule's 天) or working days (its 工作日)."""

    days: int
    working: bool


def element_specs(spec: Any, subprocess_specs: dict[str, Any]) -> list[Any]:
    """Every element of the process and of its subprocesses, as SpiffWorkflow parsed them."""
    return [*spec.task_specs.values(), *(task for sub in subprocess_specs.values() for task in sub.task_specs.values())]


def properties(spec: Any) -> dict[str, str]:
    return spec.extensions.get("properties", {}) if getattr(spec, "extensions", None) else {}


def is_timer(spec: Any) -> bool:
    return isinstance(getattr(spec, "event_definition", None), TimerEventDefinition)


def is_acceptance(spec: Any) -> bool:
    return properties(spec).get(ACCEPTANCE, "").strip().lower() == "true"


def acceptance_step(specs: Iterable[Any]) -> Any | None:
    """The user task whose completion is 受理 (the clock starts there); None: the case's start is."""
    return next((spec for spec in specs if is_acceptance(spec)), None)


def step_limit(spec: Any) -> int | None:
    value = properties(spec).get(STEP_LIMIT)
    return int(value) if value else None


def pause_reason(spec: Any) -> str | None:
    return properties(spec).get(PAUSE) or None


def timer_length(spec: Any, guide: dict[str, Any]) -> TimerLength | None:
    """The item's `[timers.<element id>]` first (a county changes it without the diagram), then `workingDays`;
    None: the diagram's own ISO 8601 expression."""
    configured = (guide.get("timers") or {}).get(spec.bpmn_id)
    if configured:
        return TimerLength(int(configured["days"]), configured.get("unit", "calendar") == "working")
    days = properties(spec).get(WORKING_DAYS)
    return TimerLength(int(days), True) if days else None


def _positive(value: Any) -> bool:
    text = str(value).strip()
    return text.isdigit() and int(text) > 0


def problems(specs: list[Any], guide: dict[str, Any]) -> list[tuple[Any | None, str]]:
    """Every clock property the diagram or item.toml gets wrong, with the element it is on (None: item.toml)."""
    found: list[tuple[Any | None, str]] = []
    accepting = [spec for spec in specs if ACCEPTANCE in properties(spec)]
    for spec in accepting:
        if properties(spec)[ACCEPTANCE].strip().lower() not in ("true", "false"):
            found.append((spec, f"{ACCEPTANCE} 只能是 true 或 false"))
        elif not isinstance(spec, UserTask) and is_acceptance(spec):
            found.append((spec, f"受理环节（{ACCEPTANCE}）必须是用户任务：受理由窗口人员办理"))
    marked = [spec for spec in accepting if is_acceptance(spec)]
    if len(marked) > 1:
        names = "、".join(f"“{spec.bpmn_name or spec.bpmn_id}”" for spec in marked)
        found.append((marked[1], f"一个流程只能有一个受理环节（{ACCEPTANCE}），现有 {len(marked)} 个：{names}"))
    for spec in specs:
        props = properties(spec)
        if STEP_LIMIT in props:
            if not isinstance(spec, UserTask):
                found.append((spec, f"环节时限（{STEP_LIMIT}）只能设在用户任务上"))
            elif not _positive(props[STEP_LIMIT]):
                found.append((spec, f"环节时限（{STEP_LIMIT}）“{props[STEP_LIMIT]}”应为正整数（工作日数），如 5"))
        if WORKING_DAYS in props:
            if not is_timer(spec) or isinstance(spec.event_definition, CycleTimerEventDefinition):
                found.append((spec, f"工作日计时（{WORKING_DAYS}）只能设在时长或日期定时器上"))
            elif not _positive(props[WORKING_DAYS]):
                found.append((spec, f"工作日计时（{WORKING_DAYS}）“{props[WORKING_DAYS]}”应为正整数（工作日数），如 7"))
        if PAUSE in props:
            if not (isinstance(spec, UserTask) or is_timer(spec)):
                found.append((spec, f"暂停计时（{PAUSE}）只能设在用户任务或定时器上"))
            elif props[PAUSE] not in PAUSE_REASONS:
                found.append((spec, f"暂停计时的原因“{props[PAUSE]}”无效，应为 {'、'.join(PAUSE_REASONS)} 之一"
                                    "（行政许可法第四十五条等不计入办理期限的情形）"))
    return found + _timer_table_problems(specs, guide)


def _timer_table_problems(specs: list[Any], guide: dict[str, Any]) -> list[tuple[Any | None, str]]:
    """item.toml `[timers.<element id>]`: days, unit and the rule that sets them, for a timer of the diagram."""
    table = guide.get("timers")
    if table is None:
        return []
    if not isinstance(table, dict):
        return [(None, "[timers] 应为以定时器元素 id 为键的表，如 [timers.Timer_publicity]")]
    timers = {spec.bpmn_id: spec for spec in specs if is_timer(spec)}
    found: list[tuple[Any | None, str]] = []
    for element_id, entry in table.items():
        where = f"[timers.{element_id}]"
        spec = timers.get(element_id)
        if spec is None:
            found.append((None, f"{where}：流程图中没有 id 为“{element_id}”的定时器"))
            continue
        if isinstance(spec.event_definition, CycleTimerEventDefinition):
            found.append((spec, f"{where}：重复周期定时器不能按天数设定时长"))
            continue
        if not isinstance(entry, dict):
            found.append((spec, f"{where} 应写成 days = 7、unit = \"calendar\"、basis = \"…\""))
            continue
        if not (isinstance(entry.get("days"), int) and _positive(entry["days"])):
            found.append((spec, f"{where}：days 应为正整数，如 days = 7"))
        if entry.get("unit", "calendar") not in TIMER_UNITS:
            found.append((spec, f"{where}：unit 应为 \"calendar\"（日历天，规定写“天”时）"
                                "或 \"working\"（工作日，规定写“工作日”时）"))
        if not (isinstance(entry.get("basis"), str) and entry["basis"].strip()):
            found.append((spec, f"{where}：缺少 basis（规定该时长的文件及条款）"))
    return found
