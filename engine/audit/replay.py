"""A case as it stood at one event of its history, rebuilt from the recorded events alone (no state per event)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..procedures.diagram import DiagramInfo, markers
from ..vocabulary import CaseStatus, EventKind, TaskStatus, TimerStatus


@dataclass(frozen=True)
class TaskAt:
    """A user task as it stood: open (with whoever had claimed it), completed or cancelled."""

    task_id: str
    step: str | None
    status: str
    assignee: str | None
    # The post it was routed to: role code and org unit id, as its creation recorded them.
    role: str | None
    org_id: int | None


@dataclass(frozen=True)
class TimerAt:
    timer_id: str
    step: str | None
    status: str
    due_at: str | None


@dataclass(frozen=True)
class PauseAt:
    """A stop of the case clock (公示, 补正 …); `ended_at` None while it still ran at the moment replayed."""

    step: str | None
    reason: str | None
    started_at: datetime
    ended_at: datetime | None
    working_days: int | None


@dataclass(frozen=True)
class CardAt:
    color: str
    step: str | None
    due_date: str | None
    at: datetime


@dataclass(frozen=True)
class Moment:
    """What the case held right after event `seq`: its data (and which keys that event changed), tasks, timers,
    status and deadline state."""

    seq: int
    count: int
    event: Any
    status: str
    result: str | None
    data: dict[str, Any]
    changed: frozenset[str]
    tasks: dict[str, TaskAt]
    timers: dict[str, TimerAt]
    promised_date: str | None
    promised_provisional: bool
    clock_started_at: datetime | None
    pauses: list[PauseAt]
    cards: list[CardAt]
    end_step: str | None
    # The materials checklist as the window last ticked it (received, copies, original seen).
    materials: list[dict[str, Any]] = field(default_factory=list)

    @property
    def open_tasks(self) -> list[TaskAt]:
        return [task for task in self.tasks.values() if task.status == TaskStatus.OPEN]

    @property
    def waiting_timers(self) -> list[TimerAt]:
        return [timer for timer in self.timers.values() if timer.status == TimerStatus.WAITING]


@dataclass
class _State:
    status: str = CaseStatus.RUNNING
    result: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    tasks: dict[str, TaskAt] = field(default_factory=dict)
    timers: dict[str, TimerAt] = field(default_factory=dict)
    promised_date: str | None = None
    promised_provisional: bool = False
    clock_started_at: datetime | None = None
    pauses: list[PauseAt] = field(default_factory=list)
    cards: list[CardAt] = field(default_factory=list)
    end_step: str | None = None
    materials: list[dict[str, Any]] = field(default_factory=list)
    # Signer rows (会签, 加签): the task each signs for, and whether they sign before or after its holder.
    signing: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def merge(self, values: dict[str, Any] | None) -> None:
        for key, value in (values or {}).items():
            if key not in self.data or self.data[key] != value:
                self.changed.add(key)
            self.data[key] = value

    def task(self, task_id: str | None, **changes: Any) -> None:
        found = self.tasks.get(task_id or "")
        if found is not None:
            self.tasks[found.task_id] = TaskAt(**{**found.__dict__, **changes})

    def timer(self, timer_id: str | None, **changes: Any) -> None:
        found = self.timers.get(timer_id or "")
        if found is not None:
            self.timers[found.timer_id] = TimerAt(**{**found.__dict__, **changes})


def moment(events: Sequence[Any], seq: int) -> Moment:
    """The case right after its event `seq` (clamped to the history), from `events` in seq order.

    Pure over the events: each carries `seq`, `at`, `kind`, `task_id`, `step`, `before` and `after` as
    the chain stored them.
    """
    if not events:
        raise ValueError("no events")
    seq = min(max(seq, events[0].seq), events[-1].seq)
    state = _State()
    current = events[0]
    for event in events:
        if event.seq > seq:
            break
        state.changed = set()
        _apply(state, event)
        current = event
    return Moment(
        seq=current.seq, count=events[-1].seq, event=current, status=state.status, result=state.result,
        data=state.data, changed=frozenset(state.changed), tasks=state.tasks, timers=state.timers,
        promised_date=state.promised_date, promised_provisional=state.promised_provisional,
        clock_started_at=state.clock_started_at, pauses=state.pauses, cards=state.cards, end_step=state.end_step,
        materials=state.materials,
    )


@dataclass(frozen=True)
class _Row:
    element_id: str
    status: str


@dataclass(frozen=True)
class Markers:
    """Diagram element ids to draw as they were: completed (with flows taken), active tasks, waiting timers."""

    completed: list[str]
    active: list[str]
    waiting: list[str]


def markers_at(info: DiagramInfo, at: Moment, elements: Mapping[str, str]) -> Markers:
    """The diagram at a moment, drawn by the case page's rule; `elements` maps task and timer ids to element ids
    (the task and timer rows keep them)."""
    tasks = [_Row(elements[t.task_id], t.status) for t in at.tasks.values() if t.task_id in elements]
    timers = [_Row(elements[t.timer_id], t.status) for t in at.timers.values() if t.timer_id in elements]
    ended = [_Ended(EventKind.CASE_COMPLETED, at.end_step)] if at.end_step else []
    done, active = markers(info, tasks, timers, ended)
    waiting = [row.element_id for row in timers if row.status == TimerStatus.WAITING]
    return Markers(done, [element for element in active if element not in waiting], waiting)


@dataclass(frozen=True)
class _Ended:
    kind: str
    step: str | None


def _apply(state: _State, event: Any) -> None:
    """One event's effect; kinds that change nothing shown here (an extension asked) pass through."""
    after: dict[str, Any] = event.after or {}
    kind = event.kind
    state.materials = after.get("materials", state.materials)
    if kind == EventKind.CASE_STARTED:
        state.merge(after.get("data"))
        # A case registered at the window without acceptance says where it waits.
        state.status = after.get("status", CaseStatus.RUNNING)
        state.promised_date = after.get("promised_date")
        state.promised_provisional = bool(after.get("promised_provisional"))
    elif kind in (EventKind.CASE_ACCEPTED, EventKind.CASE_DEEMED_ACCEPTED):
        state.status = CaseStatus.RUNNING
        state.promised_date = after.get("promised_date")
        state.promised_provisional = bool(after.get("promised_provisional"))
        if state.promised_date:
            state.clock_started_at = datetime.fromisoformat(after["accepted_at"])
    elif kind == EventKind.SUPPLEMENT_REQUESTED:
        state.status = CaseStatus.SUPPLEMENT
    elif kind == EventKind.INTAKE_REFUSED:
        state.status = CaseStatus.NOT_ACCEPTED
    elif kind == EventKind.TASK_CREATED:
        # A sign-off step's own row is created held, a signer added after the holder waiting.
        state.tasks[event.task_id] = TaskAt(event.task_id, event.step, after.get("status", TaskStatus.OPEN), None,
                                            after.get("role"), after.get("org_id"))
        if after.get("signing_for"):
            state.signing[event.task_id] = (after["signing_for"], after.get("sign_position"))
    elif kind in (EventKind.TASK_CLAIMED, EventKind.TASK_RELEASED, EventKind.TASK_DELEGATED,
                  EventKind.DELEGATE_ANSWERED):
        state.task(event.task_id, assignee=after.get("assignee"))
    elif kind == EventKind.TASK_TRANSFERRED:
        state.task(event.task_id, assignee=None, role=after.get("role"), org_id=after.get("org_id"))
    elif kind == EventKind.TASK_COMPLETED:
        state.merge(after)
        state.task(event.task_id, status=TaskStatus.COMPLETED)
    elif kind == EventKind.TASK_CANCELLED:
        state.task(event.task_id, status=TaskStatus.CANCELLED)
        # Its signers' shares go with it, as the rows do.
        for signer in _signers(state, event.task_id, TaskStatus.OPEN, TaskStatus.PENDING):
            state.task(signer, status=TaskStatus.CANCELLED)
    elif kind in (EventKind.SIGNER_ADDED, EventKind.TASK_SIGNED):
        _apply_signing(state, event, after)
    elif kind == EventKind.VARIABLES_SET:
        state.merge(after)
    elif kind == EventKind.TIMER_STARTED:
        state.timers[event.task_id] = TimerAt(event.task_id, event.step, TimerStatus.WAITING, after.get("due_at"))
    elif kind == EventKind.TIMER_FIRED:
        state.timer(event.task_id, status=TimerStatus.FIRED)
    elif kind == EventKind.CASE_COMPLETED:
        state.status, state.result, state.end_step = CaseStatus.COMPLETED, after.get("result"), event.step
        # A boundary timer still waiting at the end went with its case.
        for timer in [t for t in state.timers.values() if t.status == TimerStatus.WAITING]:
            state.timer(timer.timer_id, status=TimerStatus.CANCELLED)
    elif kind == EventKind.CASE_CANCELLED:
        state.status = CaseStatus.CANCELLED
    else:
        _apply_clock(state, event, after)


def _signers(state: _State, task_id: str | None, *statuses: str) -> list[str]:
    return [signer for signer, (signs_for, _) in state.signing.items()
            if signs_for == task_id and signer in state.tasks and state.tasks[signer].status in statuses]


def _apply_signing(state: _State, event: Any, after: dict[str, Any]) -> None:
    """加签 before the holder holds their task; a signer's signature is done, and one added before the holder gives
    the task back; a holder's answer before the signer added after them opens that signer's task."""
    if event.kind == EventKind.SIGNER_ADDED:
        if after.get("position") == "before":
            state.task(event.task_id, status=TaskStatus.HELD)
        return
    signs = state.signing.get(event.task_id or "")
    if signs is None:
        state.task(event.task_id, status=TaskStatus.HELD)
        for signer in _signers(state, event.task_id, TaskStatus.PENDING):
            state.task(signer, status=TaskStatus.OPEN)
        return
    state.task(event.task_id, status=TaskStatus.COMPLETED)
    if signs[1] == "before":
        state.task(signs[0], status=TaskStatus.OPEN)


def _apply_clock(state: _State, event: Any, after: dict[str, Any]) -> None:
    kind = event.kind
    if kind == EventKind.CLOCK_STARTED:
        state.clock_started_at = event.at
        state.promised_date = after.get("promised_date")
    elif kind in (EventKind.DUE_DATE_CHANGED, EventKind.PROMISED_DATE_SET) and event.task_id is None:
        # The case clock's due date is the promised date; a step's own due date is not.
        state.promised_date = after.get("due_date", state.promised_date)
        state.promised_provisional = bool(after.get("provisional", state.promised_provisional))
    elif kind == EventKind.CLOCK_PAUSED:
        state.pauses.append(PauseAt(event.step, after.get("pause_reason"), event.at, None, None))
    elif kind == EventKind.CLOCK_RESUMED:
        for i in range(len(state.pauses) - 1, -1, -1):
            pause = state.pauses[i]
            if pause.ended_at is None and pause.step == event.step:
                state.pauses[i] = PauseAt(pause.step, pause.reason, pause.started_at, event.at,
                                          after.get("working_days"))
                break
    elif kind == EventKind.CARD_RAISED:
        state.cards.append(CardAt(after.get("card", ""), event.step, after.get("due_date"), event.at))
