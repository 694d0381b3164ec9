"""The window: checklist, 一次性告知 and return, 收件待审 under §32, 不予受理, duplicates and names (both databases)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import clock
from engine.audit import chain as audit
from engine.audit import replay
from engine.cases.intake import Applicant
from engine.cases.outcomes import Outcome, Window
from engine.documents.issuing import of_case
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.models import Case, CaseEvent, CaseIntake, Document, Notification, Task
from engine.procedures.deploy import current_version
from engine.services import Services
from tests.conftest import TEST_START, user_id
from tests.procedures import applicant, fill

DONGPO = "510123101201"
DIBAO = "MZ-DIBAO"
MATERIALS = ["户主书面申请书", "户口簿及家庭成员身份证复印件", "家庭收入证明", "重病、重残等其他有关证明材料",
             "家庭经济状况核对授权书及诚信承诺书", "委托书（委托村委会或他人代为申请的）"]


def ticks(*missing: str) -> list[dict[str, Any]]:
    return [{"name": name, "received": name not in missing, "copies": 1, "original": name == MATERIALS[1]}
            for name in MATERIALS]


def application(svc: Services, item: str = DIBAO) -> dict[str, Any]:
    with svc.db.read() as session:
        version = current_version(session, item)
        return fill(version.forms[version.guide["application_form"]])


def register(svc: Services, window: Window, person: dict[str, str] | None = None, agent: str = "dongpo_agent"
             ) -> Case:
    return svc.cases.start_case(user_id(svc, agent), DIBAO, DONGPO, person or applicant(DONGPO),
                                application(svc), window).case


def reread(svc: Services, case_id: int) -> tuple[Case, CaseIntake, list[CaseEvent], list[Task]]:
    with svc.db.read() as session:
        case = session.get(Case, case_id)
        row = session.get(CaseIntake, case_id)
        events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)))
        tasks = list(session.scalars(select(Task).where(Task.case_id == case_id)))
        assert case is not None and row is not None
        return case, row, events, tasks


def documents(svc: Services, case_id: int) -> list[Document]:
    with svc.db.read() as session:
        return of_case(session, case_id)


def test_complete_checklist_accepts_at_once_and_records_the_materials(services: Services) -> None:
    case = register(services, Window(ticks()))
    case, row, events, tasks = reread(services, case.id)
    assert case.status == "running" and case.clock_started_at is not None and case.promised_date is not None
    assert tasks, "the workflow started"
    assert [m["name"] for m in row.materials if m["received"]] == MATERIALS
    assert events[0].kind == "case_started" and events[0].after["materials"][1]["original"] is True
    [receipt] = documents(services, case.id)
    assert receipt.kind == "receipt" and receipt.facts["promised_date"] == case.promised_date.isoformat()
    assert [m["name"] for m in receipt.facts["materials"]] == MATERIALS and receipt.facts["query_url"] == "/query"


def test_accepting_an_incomplete_application_is_refused_naming_what_is_missing(services: Services) -> None:
    with pytest.raises(ValidationFailed, match="缺少家庭收入证明"):
        register(services, Window(ticks("家庭收入证明")))


def test_one_time_notice_lists_every_missing_material_and_the_same_case_continues(services: Services) -> None:
    missing = ["户口簿及家庭成员身份证复印件", "家庭收入证明"]
    case = register(services, Window(ticks(*missing, MATERIALS[3]), Outcome.SUPPLEMENT,
                                     notes={"家庭收入证明": "须村委会盖章"}))
    case, row, events, tasks = reread(services, case.id)
    assert case.status == "supplement" and case.clock_started_at is None and case.promised_date is None
    assert not tasks, "no workflow before acceptance"
    # Only required materials are on the notice: the optional one is not asked for.
    assert row.notice_missing == [{"name": missing[0], "note": ""}, {"name": missing[1], "note": "须村委会盖章"}]
    assert [e.kind for e in events[-2:]] == ["supplement_requested", "document_issued"]
    [notice] = documents(services, case.id)
    assert notice.kind == "supplement_notice" and notice.facts["missing"] == row.notice_missing
    number = case.case_number
    clerk = user_id(services, "dongpo_agent")
    with pytest.raises(Conflict, match="一次性告知书已于"):
        services.cases.examine(clerk, case.id, Window(ticks(missing[0]), Outcome.SUPPLEMENT))
    clock.set_now(TEST_START + timedelta(days=3))
    step = services.cases.examine(clerk, case.id, Window(ticks()))
    case, row, events, tasks = reread(services, case.id)
    assert case.case_number == number and case.status == "running" and tasks and step.open_tasks
    # The clock starts at acceptance, not at the first visit.
    assert case.clock_started_at is not None
    assert (case.clock_started_at - TEST_START).days == 3 and case.accepted_at == case.clock_started_at
    assert any(e.kind == "case_accepted" for e in events)
    assert [d.kind for d in documents(services, case.id)] == ["supplement_notice", "receipt"]
    with services.db.read() as session:
        assert audit.verify(session, case.id) == []


def test_refused_at_the_window_ends_the_case_with_reasons(services: Services) -> None:
    case = register(services, Window(ticks(), Outcome.REFUSE, reasons="申请人户籍不在本村，不属本机关受理范围",
                                     basis="《社会救助暂行办法》第十一条"))
    case, row, events, tasks = reread(services, case.id)
    assert case.status == "not_accepted" and case.completed_at is not None and not tasks
    assert row.refusal_reasons.startswith("申请人户籍不在本村")
    assert row.refused_by_id == user_id(services, "dongpo_agent")
    assert [e.kind for e in events[-2:]] == ["intake_refused", "document_issued"]
    assert [d.kind for d in documents(services, case.id)] == ["intake_refusal"]
    assert documents(services, case.id)[0].facts["reasons"] == row.refusal_reasons
    with pytest.raises(ValidationFailed, match="须写明理由和依据") as refused:
        register(services, Window(ticks(), Outcome.REFUSE, reasons="不属本机关职权范围"))
    assert set(refused.value.fields) == {"basis"}


def test_a_case_in_supplement_may_be_refused_when_the_applicant_cannot_complete(services: Services) -> None:
    case = register(services, Window(ticks("家庭收入证明"), Outcome.SUPPLEMENT))
    services.cases.examine(user_id(services, "dongpo_agent"), case.id,
                           Window(ticks("家庭收入证明"), Outcome.REFUSE, reasons="逾期未补正家庭收入证明",
                                  basis="《中华人民共和国行政许可法》第三十二条"))
    assert reread(services, case.id)[0].status == "not_accepted"


def test_section32_warns_on_day_three_and_accepts_from_receipt_on_day_five(services: Services) -> None:
    case = register(services, Window(ticks("家庭收入证明"), Outcome.RECEIVE))
    assert reread(services, case.id)[0].status == "received"
    clerk = user_id(services, "dongpo_agent")
    # Received Monday 2 March 2026: working day 3 is Thursday the 5th, day 5 Monday the 9th.
    clock.set_now(datetime(2026, 3, 4, 10, 0, tzinfo=clock.SHANGHAI))
    services.cases.run_section32()
    with services.db.read() as session:
        told = session.scalars(select(Notification).where(Notification.case_id == case.id)).all()
    assert not told
    clock.set_now(datetime(2026, 3, 5, 10, 0, tzinfo=clock.SHANGHAI))
    assert services.cases.run_section32() >= 1
    with services.db.read() as session:
        told = session.scalars(select(Notification).where(Notification.case_id == case.id)).all()
    assert [n.user_id for n in told] == [clerk] and case.case_number in told[0].title
    assert reread(services, case.id)[0].status == "received"
    clock.set_now(datetime(2026, 3, 9, 8, 0, tzinfo=clock.SHANGHAI))
    services.cases.run_section32()
    case, row, events, tasks = reread(services, case.id)
    assert case.status == "running" and tasks
    # Counted from the day of receipt, not from the day the scheduler acted.
    assert case.accepted_at.date() == case.clock_started_at.date() == TEST_START.date()
    assert case.promised_date is not None and case.promised_date < datetime(2026, 4, 20).date()
    deemed = next(e for e in events if e.kind == "case_deemed_accepted")
    assert "第三十二条" in deemed.after["basis"] and deemed.actor_id is None
    [receipt] = documents(services, case.id)
    assert receipt.facts["promised_date"] == case.promised_date.isoformat()


def test_an_open_case_of_the_same_item_and_applicant_is_refused_by_its_number(services: Services) -> None:
    person = applicant(DONGPO)
    first = register(services, Window(ticks("家庭收入证明"), Outcome.SUPPLEMENT), person)
    with pytest.raises(Conflict) as refused:
        register(services, Window(ticks()), person)
    assert first.case_number in refused.value.message and "待补正" in refused.value.message
    services.cases.examine(user_id(services, "dongpo_agent"), first.id,
                           Window(ticks(), Outcome.REFUSE, reasons="申请人撤回申请", basis="申请人书面撤回"))
    # Once the first has ended, a new application is taken.
    assert register(services, Window(ticks()), person).status == "running"


@pytest.mark.parametrize(("typed", "stored"), [
    ("阿依古丽·买买提", "阿依古丽·买买提"), ("阿依古丽・买买提", "阿依古丽·买买提"), ("王秀兰", "王秀兰"),
    ("John O'Neil-Smith", "John O'Neil-Smith"), ("  Maria  J. Lopez ", "Maria J. Lopez"),
])
def test_names_chinese_minority_and_foreign(typed: str, stored: str) -> None:
    person = applicant(DONGPO) | {"name": typed}
    assert Applicant.parse(person).name == stored


@pytest.mark.parametrize(("typed", "message"), [
    ("王秀兰2", "只能是汉字"), ("阿依古丽.买买提", "间隔号"), ("王", "2 至 30"), ("John_Smith", "只能是汉字"),
    ("·王秀兰", "只能是汉字"),
])
def test_names_refused_with_a_clear_message(typed: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        Applicant.parse(applicant(DONGPO) | {"name": typed})
    assert message in refused.value.fields["name"][0]


YOUDAI = "MZ-YOUDAI"
YOUDAI_MATERIALS = [{"name": "本人身份证复印件", "received": True, "copies": 1, "original": True},
                    {"name": "免冠红底一寸彩照", "received": True, "copies": 1}]


def test_immediate_case_accepted_and_decided_at_once_with_receipt_and_decision(services: Services) -> None:
    agent = user_id(services, "dongpo_agent")
    person = applicant(DONGPO) | {"name": "欧阳秀英"}
    step = services.cases.handle_immediate(
        agent, YOUDAI, DONGPO, person, {"age": 72, "household_here": True}, Window(YOUDAI_MATERIALS),
        {"handle_decision": "approve", "handle_opinion": "身份证与照片核对无误，年满65周岁，当场发证"})
    case, row, events, tasks = reread(services, step.case.id)
    assert case.status == "completed" and case.result == "approved" and case.completed_at is not None
    assert [m["name"] for m in row.materials if m["received"]] == ["本人身份证复印件", "免冠红底一寸彩照"]
    kinds = [d.kind for d in documents(services, case.id)]
    assert kinds[0] == "receipt" and "approval_decision" in kinds


def test_immediate_decision_checked_before_anything_is_registered(services: Services) -> None:
    with services.db.read() as session:
        before = session.scalar(select(func.count()).select_from(Case))
    with pytest.raises(ValidationFailed):
        services.cases.handle_immediate(user_id(services, "dongpo_agent"), YOUDAI, DONGPO, applicant(DONGPO),
                                        {"age": 70, "household_here": True}, Window(YOUDAI_MATERIALS),
                                        {"handle_decision": "approve"})
    with pytest.raises(Forbidden, match="当场办理"):
        services.cases.handle_immediate(user_id(services, "qingshui_window"), YOUDAI, DONGPO, applicant(DONGPO),
                                        {"age": 70, "household_here": True}, Window(YOUDAI_MATERIALS),
                                        {"handle_decision": "approve", "handle_opinion": "核对无误"})
    with services.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == before


def test_replay_shows_the_window_statuses_and_the_checklist_as_ticked(services: Services) -> None:
    case = register(services, Window(ticks("家庭收入证明"), Outcome.SUPPLEMENT))
    services.cases.examine(user_id(services, "dongpo_agent"), case.id, Window(ticks()))
    events = reread(services, case.id)[2]
    seq = {event.kind: event.seq for event in reversed(events)}
    registered = replay.moment(events, seq["case_started"])
    assert registered.status == "supplement"
    noticed = replay.moment(events, seq["supplement_requested"])
    assert noticed.status == "supplement" and noticed.clock_started_at is None
    assert [m["received"] for m in noticed.materials] == [True, True, False, True, True, True]
    accepted = replay.moment(events, seq["case_accepted"])
    assert accepted.status == "running" and accepted.promised_date and accepted.clock_started_at is not None
    assert all(m["received"] for m in accepted.materials)
