"""即办件: an item whose guide says case_type "immediate" is accepted and decided by the clerk at the window at once."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask

from ..deadlines import marks
from ..errors import Conflict, Forbidden, ValidationFailed
from ..procedures import forms
from ..procedures.deploy import current_version_id
from ..procedures.spiff import LoadedVersion
from ..tasks import complete
from . import intake, locking
from .context import Runtime
from .outcomes import Outcome, Window
from .reconcile import Step

IMMEDIATE = "immediate"
FORM, UI_FORM = "formJsonSchemaFilename", "formUiSchemaFilename"


def is_immediate(guide: dict[str, Any]) -> bool:
    return guide.get("case_type") == IMMEDIATE


def decision_forms(version: LoadedVersion) -> tuple[str | None, str | None]:
    """The JSON Schema and UI schema files of the diagram's one step, which the clerk fills on the intake screen."""
    props = marks.properties(_step(version))
    return props.get(FORM), props.get(UI_FORM)


def _step(version: LoadedVersion) -> Any:
    steps = [spec for spec in marks.element_specs(version.spec, version.subprocess_specs) if isinstance(spec, UserTask)]
    if len(steps) != 1:
        raise Conflict("即办件的流程应只有一个当场办理的环节，请联系管理员检查流程图")
    return steps[0]


def handle(rt: Runtime, actor_id: int, item_code: str, village_code: str, applicant: Any, data: Any,
           window: Window, decision: Any) -> Step:
    """Accept and decide on one screen: the diagram's one step is the clerk's own, worked with `decision` at once.

    The decision is checked before the case is registered, so a wrong one leaves no half-done case behind."""
    with rt.db.read() as session:
        actor = locking.actor(session, actor_id)
        version = rt.versions.get(session, current_version_id(session, item_code))
        if not is_immediate(version.guide):
            raise ValidationFailed(f"“{version.guide.get('name', item_code)}”不是即办件，请按承诺件受理")
        step = _step(version)
        if step.lane != actor.role_code:
            role = rt.reference.role(session, step.lane)
            raise Forbidden(f"该即办件由{role.name if role else step.lane}当场办理，您不能当场办结")
    form_file = marks.properties(step).get(FORM)
    forms.validate(forms.task_form(version.forms, form_file), decision, "办理决定")
    started = intake.start_case(rt, actor_id, item_code, village_code, applicant, data, window)
    if window.outcome != Outcome.ACCEPT:
        return started
    [task] = started.open_tasks
    return complete.complete(rt, actor_id, task.id, decision)
