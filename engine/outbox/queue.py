"""Writing a case's service calls into the outbox, in the transaction that reached them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from connectors import REGISTRY

from ..audit import chain
from ..audit.chain import Acting
from ..db import queue_write
from ..errors import StepFailed
from ..models import Case, OutboxMessage
from ..vocabulary import EventKind, OutboxStatus
from .calls import Call

INSERT = insert(OutboxMessage.__table__).inline()


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


def write(session: Session, case: Case, task_id: str | None, step: str, connector: str, params: dict[str, Any],
          key: str, actor: Acting | None, now: datetime) -> None:
    """One outbox row, due now, sent after this transaction commits; the history names the call."""
    queue_write(session, INSERT, {
        "case_id": case.id, "task_id": task_id, "step": step, "connector": connector, "params": params,
        "idempotency_key": key, "status": OutboxStatus.PENDING, "attempts": 0, "next_try_at": now,
        "claimed_until": None, "last_error": None, "result": None, "created_at": now, "sent_at": None,
    })
    # Which parameters went out, not their values: those may be personal data, and stay in the outbox row.
    chain.append(session, case, EventKind.SERVICE_CALL_QUEUED, actor, now, task_id=task_id, step=step,
                 after={"connector": connector, "parameters": sorted(params)})
