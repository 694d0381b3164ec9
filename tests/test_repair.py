"""A step that fails after a clerk's completion becomes an incident with the input kept; an administrator publishes a
fix, migrates the case and retries it, or cancels a case with a reason; on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import clock
from engine.audit import chain as audit
from engine.audit import system
from engine.errors import Conflict, Forbidden, StepFailed, StepHeld, ValidationFailed
from engine.models import Case, CaseEvent, Deadline, Incident, Notification, ProcedureVersion, SystemEvent, Task, Timer
from engine.procedures.deploy import deploy_folders
from engine.services import Services
from tests.conftest import make_services, user_id
from tests.procedures import SEED_SHAPE
from tests.test_engine import drive, form, holder, open_tasks, start

ITEM = "MZ-DIBAO-SCORE"
APPROVE = 'village_decision == "approve"'
# The village's approval also asks for a score no form collects: the gateway after 村委会初审 fails at run time.
BROKEN = 'village_decision == "approve" and village_score &gt;= 60'


def dibao_copy(parent: Path, condition: str) -> Path:
    """The seed-shaped 低保 folder as item ITEM, its village approval flow under `condition`."""
    folder = parent / ITEM
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(SEED_SHAPE, folder)
    diagram = folder / "process.bpmn"
    text = diagram.read_text("utf-8")
    assert text.count(APPROVE) == 1
    diagram.write_text(text.replace(APPROVE, condition), "utf-8")
    guide = folder / "item.toml"
    guide.write_text(guide.read_text("utf-8").replace('code = "MZ-DIBAO"', f'code = "{ITEM}"'), "utf-8")
    return folder


def publish(svc: Services, parent: Path, condition: str) -> int:
    with svc.db.write() as session:
        deploy_folders(session, [dibao_copy(parent, condition)], svc.settings.max_diagram_bytes,
                       deployed_by="admin")
        return session.scalar(select(ProcedureVersion.id).where(ProcedureVersion.item_code == ITEM)
                              .order_by(ProcedureVersion.version.desc()).limit(1))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def svc(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    # Its own database: versions of ITEM are published here and the case must start on the broken one.
    services = make_services(request.param, tmp_path_factory.mktemp(f"repair_{request.param}"), "bianmin_repair")
    publish(services, tmp_path_factory.mktemp("broken"), BROKEN)
    yield services
    services.db.dispose()


def held_case(svc: Services, parent: Path) -> tuple[Case, Task, dict, StepHeld]:
    """A case whose 村委会初审 was approved and then failed at the gateway (the broken version made current)."""
    publish(svc, parent, BROKEN)
    case = start(svc, ITEM, name="欧阳秀英")
    [task] = open_tasks(svc, case.id)
    opinion = "经村民代表会议评议，家庭人均收入低于当地低保标准，同意上报"
    data = form(svc, task, "approve") | {"village_opinion": opinion}
    with pytest.raises(StepHeld) as held:
        svc.cases.complete(holder(svc, task), task.id, data)
    return case, task, data, held.value


def kinds(svc: Services, case_id: int) -> list[str]:
    with svc.db.read() as session:
        return list(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)
                                    .order_by(CaseEvent.seq)))


def the_case(svc: Services, case_id: int) -> Case:
    with svc.db.read() as session:
        found = session.get(Case, case_id)
        assert found is not None
        return found


def step_incident(svc: Services, case_id: int) -> Incident:
    with svc.db.read() as session:
        found = session.scalar(select(Incident).where(Incident.case_id == case_id, Incident.kind == "step")
                               .order_by(Incident.id.desc()))
    assert found is not None
    return found


def test_a_failing_condition_keeps_the_input_and_the_repair_completes_the_case(
        svc: Services, tmp_path: Path) -> None:
    case, task, data, held = held_case(svc, tmp_path / "broken")
    clerk = holder(svc, task)
    assert held.status == 202 and held.element == "初审是否同意"
    assert "您填写的内容已保存" in held.message and "系统管理员已收到通知" in held.message
    incident = step_incident(svc, case.id)
    assert (incident.task_id, incident.submitted, incident.submitted_by_id, incident.step, incident.resolved_at) == (
        task.id, data, clerk, "初审是否同意", None)
    assert "village_score" in incident.message
    # The case is otherwise unchanged: the task open, no timer, the same revision; STEP_FAILED in its history.
    assert [t.id for t in open_tasks(svc, case.id)] == [task.id]
    assert the_case(svc, case.id).revision == case.revision
    assert kinds(svc, case.id)[-1] == "step_failed"
    admin = user_id(svc, "admin")
    with svc.db.read() as session:
        told = session.scalar(select(Notification).where(Notification.user_id == admin,
                                                          Notification.case_id == case.id))
        assert told is not None and told.kind == "incident" and "初审是否同意" in told.body
    # The task stays open to its post: sent again the same, it fails the same and the latest input is kept.
    with pytest.raises(StepHeld):
        svc.cases.complete(clerk, task.id, data)
    with pytest.raises(Forbidden):
        svc.cases.retry_step(clerk, case.id)
    # Retried on the broken version, it fails again and stays kept.
    with pytest.raises(StepFailed, match="重试未成功"):
        svc.cases.retry_step(admin, case.id)
    again = step_incident(svc, case.id)
    assert (again.id, again.attempts, again.submitted, again.resolved_at) == (incident.id, 3, data, None)
    # A mapping to an element the fix does not have is refused, and changes nothing.
    fixed = publish(svc, tmp_path / "fixed", APPROVE)
    with pytest.raises(ValidationFailed) as refused:
        svc.cases.migrate(admin, case.id, fixed, {"village_review": "village_check"})
    assert "village_check" in refused.value.details[0]
    assert the_case(svc, case.id).version_id == case.version_id
    # Migrated to the fix and retried: the kept input completes the step, and the case runs to its end.
    migrated = svc.cases.migrate(admin, case.id, fixed)
    assert migrated.version_id == fixed
    svc.cases.retry_step(admin, case.id)
    assert step_incident(svc, case.id).resolved_at is not None
    done, steps = drive(svc, the_case(svc, case.id))
    assert (done.status, done.result, steps) == ("completed", "approved",
                                                 ["town_review", "county_approval", "publicity_confirm"])
    with svc.db.read() as session:
        events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                      .order_by(CaseEvent.seq)))
        [moved] = [e for e in events if e.kind == "case_migrated"]
        versions = {v.id: v.version for v in session.scalars(select(ProcedureVersion))}
        assert (moved.before["version"], moved.after["version"]) == (versions[case.version_id], versions[fixed])
        assert moved.after["mapping"] == {"village_review": "village_review"}
        [completed] = [e for e in events if e.kind == "task_completed" and e.task_id == task.id]
        assert (completed.actor_id, completed.after) == (clerk, data)
        assert [e.kind for e in events].index("step_retried") < [e.kind for e in events].index("task_completed")
        assert audit.verify(session, case.id) == []
        logged = session.scalars(select(SystemEvent).where(SystemEvent.kind == "case_migrated")).all()
        assert [e.subject for e in logged][-1] == case.case_number
        assert system.verify(session) == []


def test_a_waiting_timer_keeps_its_due_time_through_a_migration(svc: Services, tmp_path: Path) -> None:
    publish(svc, tmp_path / "fixed", APPROVE)
    case = start(svc, ITEM)
    [task] = open_tasks(svc, case.id)
    svc.cases.complete(holder(svc, task), task.id, form(svc, task, "approve"))
    with svc.db.read() as session:
        [before] = session.scalars(select(Timer).where(Timer.case_id == case.id)).all()
    clock.travel(timedelta(days=2))
    newer = publish(svc, tmp_path / "newer", APPROVE + ' and village_decision != ""')
    svc.cases.migrate(user_id(svc, "admin"), case.id, newer, {"Timer_village_publicity": ""})
    with svc.db.read() as session:
        [after] = session.scalars(select(Timer).where(Timer.case_id == case.id)).all()
    assert (after.id, after.status, after.due_at) == (before.id, "waiting", before.due_at)
    clock.travel(timedelta(days=6))
    assert svc.cases.run_due_timers() == 1
    assert [t.element_id for t in open_tasks(svc, case.id)] == ["town_review"]


def test_a_case_is_cancelled_only_with_a_reason(svc: Services, tmp_path: Path) -> None:
    case, task, _data, _held = held_case(svc, tmp_path)
    admin = user_id(svc, "admin")
    with pytest.raises(ValidationFailed, match="原因"):
        svc.cases.cancel(admin, case.id, "  ")
    with pytest.raises(Forbidden):
        svc.cases.cancel(holder(svc, task), case.id, "申请人已搬离本县")
    reason = "申请人已迁出本县并在户籍地另行申请，经与申请人电话核实后撤销"
    cancelled = svc.cases.cancel(admin, case.id, reason)
    assert cancelled.status == "cancelled"
    assert open_tasks(svc, case.id) == []
    with svc.db.read() as session:
        assert session.scalar(select(Task.status).where(Task.id == task.id)) == "cancelled"
        assert set(session.scalars(select(Deadline.status).where(Deadline.case_id == case.id))) <= {"cancelled"}
        assert session.scalar(select(Incident).where(Incident.case_id == case.id, Incident.resolved_at.is_(None))) \
            is None
        [event] = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                          CaseEvent.kind == "case_cancelled")).all()
        assert event.after == {"why": reason}
        assert session.scalars(select(SystemEvent.kind).order_by(SystemEvent.seq.desc())).first() == "case_cancelled"
    with pytest.raises(Conflict, match="已撤销"):
        svc.cases.cancel(admin, case.id, reason)
