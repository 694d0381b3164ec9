"""办理: a post holder submits a task's form and the case moves on to its next steps."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState

from .. import clock, scriptpool
from ..audit import chain
from ..cases.context import Runtime
from ..cases.locking import lock_task
from ..cases.reconcile import Step, advance, mirrored
from ..db import queue_update
from ..deadlines import tracking
from ..errors import BianminError, Conflict
from ..models import Task
from ..people.access import task_access
from ..procedures import forms, variables
from ..vocabulary import EventKind, TaskStatus
from .claim import refusal

TASKS = Task.__table__


def complete(rt: Runtime, actor_id: int, task_id: str, data: Any) -> Step:
    with rt.db.write() as session:
        actor, task, case = lock_task(session, actor_id, task_id)
        decided = task_access(actor, task)
        if not decided.may_complete:
            raise refusal(task, decided.standing)
        version = rt.versions.get(session, case.version_id)
        forms.validate(forms.task_form(version.forms, task.form_file), data, task.name)
        workflow = rt.load(case, version)
        before_rows = mirrored(workflow)
        spiff_task = workflow.get_task_from_id(UUID(task.id))
        if spiff_task is None or spiff_task.state != TaskState.READY:
            raise Conflict("该任务在流程中已不可办理，请刷新页面")
        before = {key: spiff_task.data.get(key) for key in data}
        spiff_task.data.update(data)
        now = clock.now()
        # Opened here as well as in advance(), so what the task's own post-script sets is recorded too, and
        # the post-script shares the step's time budget with everything the step runs after it.
        with variables.collecting(), scriptpool.step_budget():
            try:
                spiff_task.run()
            except WorkflowException as exc:
                raise BianminError(f"环节“{task.name}”执行失败：{exc}") from exc
            queue_update(session, TASKS, task.id, status=TaskStatus.COMPLETED, completed_at=now,
                         completed_by_id=actor.id, assignee_id=task.assignee_id or actor.id)
            chain.append(session, case, EventKind.TASK_COMPLETED, actor, now, task_id=task.id, step=task.name,
                         before=before, after=data)
            tracking.completed(session, case, spiff_task.task_spec, task.id, version.guide,
                               rt.reference.calendar(session), now, actor)
            before_rows.ready.pop(task.id, None)
            step = advance(rt, session, case, workflow, before_rows, actor, now)
    rt.states.put(case.id, case.revision, workflow)
    return step
