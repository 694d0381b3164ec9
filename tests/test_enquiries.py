"""首问负责 in the engine: an enquiry is registered, owned by its first receiver, answered or handed on by 转办."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.cases.locking import actor
from engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.models import Enquiry, OrgUnit
from engine.people.jurisdiction import Actor, Post, receiving_posts
from engine.services import Services
from engine.vocabulary import EnquiryStatus
from engine.window import enquiries
from tests.conftest import user_id

DONGPO, LIULIN = "510123101201", "510123102201"
ASKED = {"person_name": "赵德明", "contact": "13708331234", "village": DONGPO,
         "matter": "儿子在外务工，想咨询父亲的高龄津贴和城乡居民养老保险待遇领取资格认证怎么办理"}


def who(svc: Services, username: str) -> Actor:
    with svc.db.read() as session:
        return actor(session, user_id(svc, username))


def register(svc: Services, username: str = "dongpo_agent", **changes: object) -> Enquiry:
    return enquiries.register(svc.cases, user_id(svc, username), {**ASKED, **changes})


def listed(svc: Services, username: str, scope: str) -> list[int]:
    with svc.db.read() as session:
        return [row.id for row in enquiries.listing(session, who(svc, username), scope, 200)]


def post_of(svc: Services, enquiry: Enquiry, role_code: str) -> Post:
    with svc.db.read() as session:
        found = session.get(Enquiry, enquiry.id)
        assert found is not None
        return next(post for post in receiving_posts(session, found) if post.role_code == role_code)


def test_registered_and_answered_on_the_spot(services: Services) -> None:
    done = register(services, answer_method="当面解答", answer="养老保险资格认证可在手机上用人脸识别办理，已当场演示")
    assert done.status == EnquiryStatus.ANSWERED
    assert done.owner_id == done.registered_by_id == done.answered_by_id == user_id(services, "dongpo_agent")
    assert [step["action"] for step in done.trail] == ["登记", "答复"]
    assert done.id in listed(services, "dongpo_agent", "place")
    assert done.id not in listed(services, "dongpo_agent", "mine")
    # The town sees its villages' register; another town does not.
    assert done.id in listed(services, "qingshui_window", "place")
    assert done.id not in listed(services, "shiqiao_window", "place")
    with pytest.raises(Conflict, match="已由.*答复，无需再办理"):
        enquiries.answer(services.cases, user_id(services, "dongpo_agent"), done.id,
                         {"answer_method": "电话解答", "answer": "再说一遍"})


def test_transfer_to_the_town_and_taken_there(services: Services) -> None:
    asked = register(services)
    assert asked.status == EnquiryStatus.OPEN and asked.id in listed(services, "dongpo_agent", "mine")
    civil = post_of(services, asked, "town_civil_affairs")
    # Only the owner answers or hands on.
    with pytest.raises(Forbidden, match="首问负责，只有负责人可以答复或转办"):
        enquiries.transfer(services.cases, user_id(services, "dongpo_committee"), asked.id, civil.role_code,
                           civil.org_id, "")
    moved = enquiries.transfer(services.cases, user_id(services, "dongpo_agent"), asked.id, civil.role_code,
                               civil.org_id, "高龄津贴由乡镇民政办审核")
    assert (moved.status, moved.owner_id, moved.post_org.name) == (EnquiryStatus.TRANSFERRED, None, "清水镇")
    assert moved.id not in listed(services, "dongpo_agent", "mine")
    assert moved.id in listed(services, "qingshui_civil", "post")
    with pytest.raises(Conflict, match="须由该岗位人员接办后办理"):
        enquiries.answer(services.cases, user_id(services, "dongpo_agent"), asked.id,
                         {"answer_method": "电话解答", "answer": "已答复"})
    with pytest.raises(Forbidden, match="只有该岗位在岗人员可以接办"):
        enquiries.take(services.cases, user_id(services, "qingshui_window"), asked.id)
    taken = enquiries.take(services.cases, user_id(services, "qingshui_civil"), asked.id)
    assert taken.owner_id == user_id(services, "qingshui_civil") and taken.status == EnquiryStatus.OPEN
    assert taken.id in listed(services, "qingshui_civil", "mine")
    assert taken.id not in listed(services, "qingshui_civil", "post")
    with pytest.raises(Conflict, match="无需接办"):
        enquiries.take(services.cases, user_id(services, "qingshui_civil_b"), asked.id)
    with pytest.raises(ValidationFailed, match="答复方式应为"):
        enquiries.answer(services.cases, taken.owner_id, asked.id, {"answer_method": "短信", "answer": "x"})
    done = enquiries.answer(services.cases, taken.owner_id, asked.id,
                            {"answer_method": "电话解答", "answer": "请带身份证和户口本到镇民政办申请高龄津贴"})
    assert done.status == EnquiryStatus.ANSWERED
    assert [step["action"] for step in done.trail] == ["登记", "转办", "接办", "答复"]
    assert done.trail[1]["to"].startswith("清水镇") and done.trail[1]["note"] == "高龄津贴由乡镇民政办审核"
    # The first receiver keeps seeing what they registered.
    assert done.id in listed(services, "dongpo_agent", "place")


def test_transfer_goes_only_to_a_post_serving_the_place(services: Services) -> None:
    asked = register(services)
    with services.db.read() as session:
        found = session.get(Enquiry, asked.id)
        assert found is not None
        labels = [post.label for post in receiving_posts(session, found)]
        shiqiao = session.scalar(select(OrgUnit.id).where(OrgUnit.name == "石桥镇"))
    assert labels[0].startswith("东坡村") and any(label.startswith("青山县") for label in labels)
    assert not any("电子监察" in label or "系统管理员" in label for label in labels)
    for role_code, org_id in (("town_civil_affairs", shiqiao), ("supervisor", asked.county_id),
                              ("town_civil_affairs", asked.village_id), ("nobody", asked.town_id)):
        with pytest.raises(ValidationFailed, match="请选择来访人所在村"):
            enquiries.transfer(services.cases, user_id(services, "dongpo_agent"), asked.id, role_code, org_id, "")


def test_register_checks_and_access(services: Services) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register(services, person_name="", contact="12", matter="", village="")
    assert set(refused.value.fields) == {"person_name", "contact", "matter", "village"}
    with pytest.raises(ValidationFailed, match="不在您的辖区内"):
        register(services, village=LIULIN)
    with pytest.raises(Forbidden, match="不能登记咨询"):
        register(services, "supervisor")
    asked = register(services)
    with pytest.raises(NotFound):
        enquiries.take(services.cases, user_id(services, "hewan_agent"), asked.id)
    with services.db.read() as session:
        with pytest.raises(NotFound):
            enquiries.one(session, who(services, "shiqiao_window"), asked.id)
        assert enquiries.one(session, who(services, "county_civil"), asked.id).person_name == "赵德明"
