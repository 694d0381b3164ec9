"""The outbox worker: claims due calls, calls their connectors outside any lock, and brings each result back to its
case in a new locked transaction; failures are retried with back-off and jitter, then become an incident."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, aliased

from connectors import REGISTRY, ConnectorError, Secrets

from .. import clock
from ..audit import chain
from ..audit.chain import Acting
from ..cases import incidents
from ..cases.context import Runtime
from ..cases.locking import lock_case
from ..cases.reconcile import Step, advance, mirrored
from ..errors import BianminError
from ..models import OutboxMessage
from ..vocabulary import EventKind, IncidentKind, OutboxStatus

# Parallel calls per run: one connector that hangs holds one of them, never the others or any case.
WORKERS = 4
# Claims per run while each one frees a case's next milestone message (受理, then 办结 of a 即办件 …).
ORDERED_ROUNDS = 5


@dataclass(frozen=True)
class Claimed:
    id: int
    case_id: int | None
    task_id: str | None
    step: str | None
    connector: str
    params: dict[str, Any]
    idempotency_key: str
    attempts: int


def deliver_due(rt: Runtime, secrets: Secrets, timeout_seconds: float, limit: int = 20) -> int:
    """Send the calls that are due; returns how many were tried. Safe to run in several processes at once."""
    tried = 0
    for _ in range(ORDERED_ROUNDS):
        claimed = _claim(rt, timeout_seconds, limit)
        if claimed:
            with ThreadPoolExecutor(max_workers=min(WORKERS, len(claimed)), thread_name_prefix="outbox") as pool:
                list(pool.map(lambda message: send(rt, secrets, timeout_seconds, message), claimed))
        tried += len(claimed)
        # A milestone message sent may free the case's next one (see _EARLIER_PENDING): it goes now, not a run later.
        if not any(message.task_id is None and message.case_id is not None for message in claimed):
            return tried
    return tried


# A case's milestone messages (the applicant's, the report upstream; no task waits for them) go out in the order
# they were queued, per connector: 办结 never reaches the platform or the phone before 受理, even when 受理 is
# waiting for a retry. Service calls have no such order: parallel branches' calls go side by side.
_EARLIER = aliased(OutboxMessage)
_EARLIER_PENDING = exists().where(
    _EARLIER.case_id == OutboxMessage.case_id, _EARLIER.connector == OutboxMessage.connector,
    _EARLIER.task_id.is_(None), _EARLIER.status == OutboxStatus.PENDING, _EARLIER.id < OutboxMessage.id)


def _claim(rt: Runtime, timeout_seconds: float, limit: int) -> list[Claimed]:
    now = clock.now()
    with rt.db.write() as session:
        due = select(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_try_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            or_(OutboxMessage.task_id.is_not(None), ~_EARLIER_PENDING),
        ).order_by(OutboxMessage.next_try_at, OutboxMessage.id).limit(limit).with_for_update(skip_locked=True)
        rows = list(session.scalars(due))
        # Held for the call's time-out and a margin: a worker that dies mid-call leaves it to the next run.
        until = now + timedelta(seconds=timeout_seconds + 30)
        for row in rows:
            row.claimed_until = until
        return [Claimed(row.id, row.case_id, row.task_id, row.step, row.connector, dict(row.params),
                        row.idempotency_key, row.attempts) for row in rows]


def send(rt: Runtime, secrets: Secrets, timeout_seconds: float, message: Claimed) -> None:
    connector = REGISTRY.get(message.connector)
    try:
        if connector is None:
            raise ConnectorError(f"连接器“{message.connector}”不存在", retryable=False)
        result = connector.call(message.params, secrets, timeout_seconds, message.idempotency_key)
    except ConnectorError as exc:
        _failed(rt, message, exc.message, exc.retryable)
    except BianminError as exc:
        # A secret not entered, or not readable with this process's key: a person must act, retrying will not help.
        _failed(rt, message, exc.message, False)
    except Exception as exc:  # noqa: BLE001 - a connector's own bug must not stop the worker; it is an incident
        _failed(rt, message, f"连接器内部错误（{type(exc).__name__}）", False)
    else:
        _answered(rt, message, result)


def _answered(rt: Runtime, message: Claimed, result: dict[str, Any]) -> Step | None:
    now = clock.now()
    with rt.db.write() as session:
        # The case first, as every writer locks it: then the row, which a retry or skip may have settled meanwhile.
        case = lock_case(session, message.case_id) if message.case_id is not None else None
        row = session.get(OutboxMessage, message.id, with_for_update=True)
        if row is None or row.status != OutboxStatus.PENDING:
            return None
        row.status, row.result, row.sent_at, row.attempts = OutboxStatus.SENT, result, now, row.attempts + 1
        row.claimed_until, row.last_error = None, None
        if case is None:
            return None
        step, workflow = resume(rt, session, case, message, result, EventKind.SERVICE_CALL_SENT, now,
                                   {"connector": message.connector, "attempt": row.attempts})
    if workflow is not None:
        rt.states.put(case.id, case.revision, workflow)
    return step


def resume(rt: Runtime, session: Session, case: Any, message: Claimed, result: Any, kind: EventKind,
              now: datetime, after: dict[str, Any], actor: Acting | None = None) -> tuple[Step | None, Any]:
    """Complete the waiting service task with `result` (under its result variable) and move the case on."""
    chain.append(session, case, kind, actor, now, task_id=message.task_id, step=message.step, after=after)
    if message.task_id is None:
        # A message to the applicant (an SMS): nothing in the workflow waits for it.
        return None, None
    workflow = rt.load(case, rt.versions.get(session, case.version_id))
    task = workflow.get_task_from_id(UUID(message.task_id))
    if task is None or task.state != TaskState.STARTED:
        # Sent back or cancelled meanwhile: the answer is kept on the outbox row and the case is not moved.
        return None, None
    before = mirrored(workflow)
    task.data[task.task_spec.result_variable] = result
    task.complete()
    return advance(rt, session, case, workflow, before, actor, now), workflow


def _failed(rt: Runtime, message: Claimed, error: str, retryable: bool) -> None:
    now = clock.now()
    with rt.db.write() as session:
        case = lock_case(session, message.case_id) if message.case_id is not None else None
        row = session.get(OutboxMessage, message.id, with_for_update=True)
        if row is None or row.status != OutboxStatus.PENDING:
            return
        row.attempts += 1
        row.last_error, row.claimed_until = error[:2000], None
        given_up = not retryable or row.attempts >= rt.retry.max_attempts
        if given_up:
            row.status = OutboxStatus.FAILED
        else:
            # Full jitter over the doubling wait, so calls that failed together do not all come back together.
            wait = rt.retry.wait(row.attempts).total_seconds()
            row.next_try_at = now + timedelta(seconds=wait / 2 + random.uniform(0, wait / 2))
        if case is None:
            return
        chain.append(session, case, EventKind.SERVICE_CALL_FAILED, None, now, task_id=message.task_id,
                     step=message.step, after={"connector": message.connector, "attempt": row.attempts,
                                               "message": row.last_error, "given_up": given_up,
                                               **({} if given_up else {"next_try_at": row.next_try_at.isoformat()})})
        if given_up:
            _incident(session, case, message, row.last_error, row.attempts, now)


def _incident(session: Session, case: Any, message: Claimed, error: str, attempts: int, now: datetime) -> None:
    """外部接口调用失败: the case's service incident (one for all its failed calls) and the administrators told."""
    step = message.step or message.connector
    incident = incidents.count_failure(session, case.id, IncidentKind.SERVICE, step,
                                       f"连接器“{message.connector}”调用失败：{error}", now)
    # What the administrator reads is the call's own count of tries, not how many calls failed into it.
    incident.attempts, incident.given_up, incident.task_id = attempts, True, message.task_id
    session.flush()
    incidents.tell_administrators(session, f"incident:{incident.id}:outbox:{message.id}",
                                  f"外部接口调用失败：{case.case_number}", f"“{step}”{incident.message}",
                                  case.id, now)
