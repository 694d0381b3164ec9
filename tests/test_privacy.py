"""Personal data: ID and phone numbers masked in case data, who handles a case, and the logged reveal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.audit import privacy, system
from engine.errors import Forbidden, ValidationFailed
from engine.models import DataReveal, SystemEvent, User
from engine.procedures.formdesign import ID_NUMBER_PATTERN, PHONE_PATTERN
from engine.services import Services
from engine.vocabulary import SystemEventKind
from tests.test_engine import start
from tests.test_webui import to_town

ID = "110105194912310021"
OTHER_ID = "51012319620409123X"


def test_id_and_phone_numbers_are_masked_by_schema_name_and_shape() -> None:
    assert privacy.mask_value("guardian", ID, {"type": "string", "pattern": ID_NUMBER_PATTERN}) == "110105********0021"
    assert privacy.mask_value("contact", "13812345678", {"pattern": PHONE_PATTERN}) == "138****5678"
    # By name, whatever the schema says, and by shape when nothing names it.
    assert privacy.mask_value("spouse_id_number", OTHER_ID) == "510123********123X"
    assert privacy.mask_value("联系电话", "0831-5678123") == "0831-***8123"
    assert privacy.mask_value("x", "13912345678") == "139****5678"
    assert privacy.mask_value("x", "01088886666") == "010-****6666"
    # Numbers quoted in free text are masked where they stand; other text and numbers are left alone.
    assert (privacy.mask_value("reason", f"户主{ID}，联系13912345678，家庭人口3") ==
            "户主110105********0021，联系139****5678，家庭人口3")
    assert privacy.mask_value("household_size", 3) == 3
    assert privacy.mask_value("reason", "因病致贫，收入 2400 元") == "因病致贫，收入 2400 元"


def test_household_members_nested_in_lists_are_masked() -> None:
    schema = {"properties": {"members": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "id_no": {"type": "string", "title": "身份证号码"},
        "tel": {"type": "string"}}}}, "size": {"type": "integer"}}}
    data = {"members": [{"name": "王秀兰", "id_no": ID, "tel": "13812345678"},
                        {"name": "李德明", "id_no": OTHER_ID, "tel": ""}], "size": 2,
            "applicant": {"name": "王秀兰", "phone": "13912345678"}}
    masked = privacy.mask_data(data, schema)
    assert masked["members"] == [{"name": "王秀兰", "id_no": "110105********0021", "tel": "138****5678"},
                                 {"name": "李德明", "id_no": "510123********123X", "tel": ""}]
    assert masked["applicant"] == {"name": "王秀兰", "phone": "139****5678"} and masked["size"] == 2
    assert data["members"][0]["id_no"] == ID  # the stored data is not touched


def user(svc: Services, username: str) -> User:
    with svc.db.read() as session:
        found = session.scalar(select(User).where(User.username == username))
        assert found is not None
        _ = found.covers  # loaded while the session is open
        return found


def handles(svc: Services, username: str, case_id: int) -> bool:
    with svc.db.read() as session:
        return privacy.handles(session, user(svc, username), case_id)


def test_who_handles_a_case(services: Services) -> None:
    case = start(services, "MZ-DIBAO")
    # The agent who accepted it and the committee whose step is open handle it; the town's civil affairs (no
    # step yet), another post of the town, the supervisor and the auditor do not.
    assert handles(services, "dongpo_agent", case.id) and handles(services, "dongpo_committee", case.id)
    for outsider in ("qingshui_civil", "qingshui_land", "qingshui_leader", "supervisor", "auditor", "admin"):
        assert not handles(services, outsider, case.id), outsider
    to_town(services, case)
    # The step reached the town's civil affairs post: both its A and B holders handle the case now, and the
    # committee that completed its step still does.
    assert handles(services, "qingshui_civil", case.id) and handles(services, "qingshui_civil_b", case.id)
    assert handles(services, "dongpo_committee", case.id) and not handles(services, "qingshui_land", case.id)


def test_reveal_needs_a_reason_and_is_logged_with_its_system_event(services: Services) -> None:
    case = start(services, "MZ-DIBAO")
    auditor = user(services, "auditor")
    with services.db.write() as session, pytest.raises(ValidationFailed, match="请选择查看理由"):
        privacy.reveal(session, auditor, case.id, "applicant_id_number", "")
    with services.db.write() as session, pytest.raises(ValidationFailed, match="须填写具体理由"):
        privacy.reveal(session, auditor, case.id, "applicant_id_number", "其他", "  ")
    with services.db.write() as session:
        shown = privacy.reveal(session, auditor, case.id, "applicant_id_number", "审计核查", address="198.51.100.4")
    assert shown.value == case.applicant_id_number and shown.kind == privacy.ID_NUMBER
    with services.db.read() as session:
        row = session.scalars(select(DataReveal).where(DataReveal.case_id == case.id)).one()
        event = session.scalars(select(SystemEvent).where(SystemEvent.kind == SystemEventKind.DATA_REVEALED,
                                                          SystemEvent.subject == case.case_number)).one()
        assert system.verify(session) == []
    assert (row.user_id, row.field, row.reason, row.address) == (auditor.id, "applicant_id_number", "审计核查",
                                                                "198.51.100.4")
    assert row.post == f"auditor@{auditor.org_id}"
    assert event.actor_name == auditor.display_name and event.after["field"] == "applicant_id_number"
    # Someone outside the case's jurisdiction is refused, and nothing is logged.
    with services.db.write() as session, pytest.raises(Forbidden):
        privacy.reveal(session, user(services, "liulin_agent"), case.id, "applicant_phone", "办理需要")
    with services.db.read() as session:
        assert len(session.scalars(select(DataReveal).where(DataReveal.case_id == case.id)).all()) == 1
