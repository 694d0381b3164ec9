"""Writing calls and messages into the outbox, in the transaction that reached them, and the daily cap on messages."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors import REGISTRY

from .. import clock
from ..audit import chain
from ..audit.chain import Acting
from ..db import insert_or_skip, queue_write
from ..errors import StepFailed
from ..models import Case, OutboxMessage
from ..vocabulary import EventKind, OutboxStatus
from .calls import Call

OUTBOX = OutboxMessage.__table__
# Messages this transaction queued per recipient: not in the table until commit, yet counted against the cap.
_QUEUED_TODAY = "outbox_queued_per_recipient"
# What the table held for each recipient when this transaction first asked.
_COUNTED_TODAY = "outbox_counted_per_recipient"


def queue(session: Session, case: Case, calls: list[Call], actor: Acting | None, now: datetime) -> None:
    """One outbox row per call, sent by the worker after this transaction commits; a call the diagram got wrong
    (an unknown connector, parameters it does not take) fails the step here, before anything is sent."""
    for call in calls:
        spec = call.task.task_spec
        step = spec.bpmn_name or spec.bpmn_id
        connector = REGISTRY.get(call.connector)
        if connector is None:
            raise StepFailed(f"服务任务“{step}”使用的连接器“{call.connector}”不存在", element=step)
        problems = connector.check(call.params)
        if problems:
            raise StepFailed(f"服务任务“{step}”的参数不符合连接器“{connector.title}”的要求：" + "；".join(problems),
                             element=step)
        task_id = str(call.task.id)
        write(session, case, task_id, step, connector.name, call.params, task_id, actor, now)


def write(session: Session, case: Case | None, task_id: str | None, step: str, connector: str,
          params: dict[str, Any], key: str, actor: Acting | None, now: datetime, *,
          recipient: str | None = None) -> None:
    """One outbox row, due now, sent after this transaction commits; the case's history names the call.

    A key already in the outbox (the same message asked for twice) adds nothing: each is sent once."""
    # inline: the row is sent in the commit's pipeline, where nothing may be read back.
    queue_write(session, insert_or_skip(session, OUTBOX, ["idempotency_key"]).inline(), {
        "case_id": case.id if case is not None else None, "task_id": task_id, "step": step, "connector": connector,
        "params": params, "idempotency_key": key, "status": OutboxStatus.PENDING, "attempts": 0,
        "next_try_at": now, "claimed_until": None, "last_error": None, "result": None, "created_at": now,
        "sent_at": None, "recipient": recipient,
    })
    if recipient is not None:
        queued = session.info.setdefault(_QUEUED_TODAY, {})
        queued[recipient] = queued.get(recipient, 0) + 1
    if case is None:
        return
    # Which parameters went out, not their values: those may be personal data, and stay in the outbox row.
    chain.append(session, case, EventKind.SERVICE_CALL_QUEUED, actor, now, task_id=task_id, step=step,
                 after={"connector": connector, "parameters": sorted(params)})


def within_cap(session: Session, recipient: str, cap: int, now: datetime) -> bool:
    """Whether `recipient` may be sent one more message today (Beijing time), counting this transaction's own.

    The table is counted once per recipient and transaction: a batch of cards to one post asks once, not per card."""
    counted = session.info.setdefault(_COUNTED_TODAY, {})
    if recipient not in counted:
        counted[recipient] = count_today(session, recipient, now)
    return counted[recipient] + session.info.get(_QUEUED_TODAY, {}).get(recipient, 0) < cap


def count_today(session: Session, recipient: str, now: datetime) -> int:
    """Messages to `recipient` in the outbox since midnight in Beijing (the recipient index answers it)."""
    midnight = datetime.combine(now.astimezone(clock.SHANGHAI).date(), time(), clock.SHANGHAI)
    return session.scalar(select(func.count()).select_from(OUTBOX).where(
        OUTBOX.c.recipient == recipient, OUTBOX.c.created_at >= midnight)) or 0


def capped(session: Session, case: Case, step: str, actor: Acting | None, now: datetime) -> None:
    """A message to the applicant not sent because they reached today's cap: the history says so."""
    chain.append(session, case, EventKind.MESSAGE_CAPPED, actor, now, step=step)
