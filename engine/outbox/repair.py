"""An administrator's answer to a service call or message that failed its last retry: send it again, or skip it with
a reason (a waiting step goes on without the connector's result); whatever the case's status, since a message to
the applicant also fails on a case waiting at the window or already completed."""

from __future__ import annotations

from datetime import datetime

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
        _settled(session, message, now)
        return message


def skip(rt: Runtime, actor_id: int, case_id: int, reason: str) -> Step | None:
    """Give the call up for good: a waiting service task completes with no result and the case goes on; a message
    nothing waits for (the applicant's SMS) is just recorded as skipped, with the reason."""
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
        _settled(session, message, now)
        step, workflow = resume(rt, session, case, claimed, None, EventKind.SERVICE_CALL_SKIPPED, now,
                                   {"connector": message.connector, "reason": written}, admin)
    if workflow is not None:
        rt.states.put(case.id, case.revision, workflow)
    return step


def failed_message(session: Session, case_id: int, *, lock: bool = False) -> OutboxMessage | None:
    """The case's latest call or message that failed its last retry: the one a retry or skip acts on."""
    query = select(OutboxMessage).where(OutboxMessage.case_id == case_id, OutboxMessage.status == OutboxStatus.FAILED,
                                        ).order_by(OutboxMessage.id.desc()).limit(1)
    return session.scalars(query.with_for_update() if lock else query).first()


def _failed(session: Session, case_id: int) -> OutboxMessage:
    message = failed_message(session, case_id, lock=True)
    if message is None:
        raise Conflict("该办件没有发送失败、待处理的外部调用或消息")
    return message


def _settled(session: Session, message: OutboxMessage, now: datetime) -> None:
    """Close the case's service incident unless another failed call or message is left on it (two messages may
    fail into the one incident: each is repaired in turn)."""
    assert message.case_id is not None
    others = select(OutboxMessage.id).where(OutboxMessage.case_id == message.case_id, OutboxMessage.id != message.id,
                                            OutboxMessage.status == OutboxStatus.FAILED).limit(1)
    if session.scalar(others) is None:
        incidents.resolve(session, message.case_id, now, IncidentKind.SERVICE)
