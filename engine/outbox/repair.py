"""An administrator's answer to a service call that failed its last retry: send it again, or skip it with a reason
(the case goes on without the connector's result)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..cases import incidents
from ..cases.context import Runtime
from ..cases.locking import lock_case
from ..cases.reconcile import Step
from ..cases.repair import administrator
from ..errors import Conflict, ValidationFailed
from ..models import OutboxMessage
from ..vocabulary import EventKind, IncidentKind, OutboxStatus
from .deliver import Claimed, resume

REASON_LIMIT = 500


def retry(rt: Runtime, actor_id: int, case_id: int) -> OutboxMessage:
    """Queue the failed call again, due now, with its attempts kept; the worker sends it on its next run."""
    with rt.db.write() as session:
        admin = administrator(session, actor_id)
        case = lock_case(session, case_id)
        message = _failed(session, case_id)
        now = clock.now()
        message.status, message.next_try_at, message.claimed_until = OutboxStatus.PENDING, now, None
        chain.append(session, case, EventKind.STEP_RETRIED, admin, now, task_id=message.task_id, step=message.step,
                     after={"connector": message.connector})
        incidents.resolve(session, case_id, now, IncidentKind.SERVICE)
        return message


def skip(rt: Runtime, actor_id: int, case_id: int, reason: str) -> Step | None:
    """Give the call up for good: the service task completes with no result and the case goes on."""
    written = (reason or "").strip()
    if not written or len(written) > REASON_LIMIT:
        raise ValidationFailed("请填写跳过的理由（不超过 500 字）", fields={"reason": ["请填写跳过的理由"]})
    with rt.db.write() as session:
        admin = administrator(session, actor_id)
        case = lock_case(session, case_id)
        message = _failed(session, case_id)
        now = clock.now()
        message.status, message.claimed_until = OutboxStatus.SKIPPED, None
        claimed = Claimed(message.id, case_id, message.task_id, message.step, message.connector, message.params,
                          message.idempotency_key, message.attempts)
        incidents.resolve(session, case_id, now, IncidentKind.SERVICE)
        step, workflow = resume(rt, session, case, claimed, None, EventKind.SERVICE_CALL_SKIPPED, now,
                                   {"connector": message.connector, "reason": written}, admin)
    if workflow is not None:
        rt.states.put(case.id, case.revision, workflow)
    return step


def _failed(session: Session, case_id: int) -> OutboxMessage:
    message = session.scalars(select(OutboxMessage).where(
        OutboxMessage.case_id == case_id, OutboxMessage.status == OutboxStatus.FAILED,
    ).order_by(OutboxMessage.id.desc()).limit(1).with_for_update()).first()
    if message is None:
        raise Conflict("该办件没有调用失败、待处理的服务任务")
    return message
