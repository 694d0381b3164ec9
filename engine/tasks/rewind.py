"""Taking a workflow back to an earlier step with SpiffWorkflow's own reset, so the task tree never grows by rounds.

A loop drawn in the diagram adds a level to the tree every pass and the library stops walking it at about 300
passes; a reset instead drops everything after the step it returns to, so a case sent back 400 times holds the
same tasks as one sent back once.
"""

from __future__ import annotations

from uuid import uuid4

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState


def _path(task: SpiffTask) -> list[SpiffTask]:
    """The task and its ancestors, nearest first."""
    path = []
    node: SpiffTask | None = task
    while node is not None:
        path.append(node)
        node = node.parent
    return path


def _is_join(task: SpiffTask) -> bool:
    return isinstance(task.task_spec, Join) and len(task.task_spec.inputs) > 1


def _is_split(task: SpiffTask) -> bool:
    return isinstance(task.task_spec, Join) and len(task.task_spec.outputs) > 1


def _merging_join(target: SpiffTask, current: SpiffTask) -> SpiffTask | None:
    """Where the branch holding `target` was merged on the way to `current`: the join nearest their common
    ancestor on `current`'s path, or None when `target` is itself on that path (the reset drops what follows)."""
    ancestors = _path(current)
    if target in ancestors:
        return None
    theirs = {id(task) for task in _path(target)}
    below = []
    for task in ancestors:
        if id(task) in theirs:
            break
        below.append(task)
    joins = [task for task in below if _is_join(task) and task.state == TaskState.COMPLETED]
    return joins[-1] if joins else None


def earlier_steps(current: SpiffTask) -> list[SpiffTask]:
    """What `current` may be sent back to, in the order they were reached: the completed user tasks on its own path
    or in a branch merged before it, and the parallel splits on its path (to do every branch again).

    A step of a branch still running beside `current` is not one of them: that branch is not behind it.
    """
    workflow = current.workflow
    steps = []
    for task in workflow.tasks.values():
        if task is current or task.state != TaskState.COMPLETED:
            continue
        on_path = current.is_descendant_of(task)
        behind = on_path or _merging_join(task, current) is not None
        if (task.task_spec.manual and behind) or (on_path and _is_split(task)):
            steps.append(task)
    return sorted(steps, key=lambda task: len(_path(task)))


def undone(target: SpiffTask, current: SpiffTask) -> list[SpiffTask]:
    """The completed tasks a rewind from `current` to `target` would drop: after `target`, and after the join
    where its branch was merged on the way to `current`."""
    tops = [target, _merging_join(target, current)]
    return [task for top in tops if top is not None for task in top
            if task is not top and task.state == TaskState.COMPLETED]


def rewind(workflow: BpmnWorkflow, target: SpiffTask, current: SpiffTask | None) -> list[SpiffTask]:
    """Make `target` the step to do next, dropping what came after it on the way to `current`.

    Returns the dropped tasks, marked cancelled so the rows mirroring them (inbox tasks, timers) are cancelled
    rather than taken for done. A user task is given a new id: each round is a new inbox row and the old one stays
    in the history as completed.
    """
    join = _merging_join(target, current) if current is not None else None
    dropped = workflow.reset_from_task_id(target.id)
    # After the target's reset, so the join sees its branch undone again and waits for it.
    if join is not None:
        dropped += workflow.reset_from_task_id(join.id)
    for task in dropped:
        task._state = TaskState.CANCELLED
    if target.task_spec.manual:
        _renew_id(target)
    return dropped


def _renew_id(task: SpiffTask) -> None:
    # The library keeps tasks in a map by id, and parents and children refer to each other by id.
    workflow, old = task.workflow, task.id
    del workflow.tasks[old]
    task.id = uuid4()
    workflow.tasks[task.id] = task
    parent = task.parent
    if parent is not None:
        parent._children = [task.id if child == old else child for child in parent._children]
    for child in task.children:
        child._parent = task.id
