"""Places and posts as administrators keep them: the org tree, roles, and each post with its A/B holders."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .. import clock
from ..audit import system
from ..audit.chain import Acting
from ..errors import Conflict, NotFound, ValidationFailed
from ..models import OrgUnit, Role, User
from ..vocabulary import SystemEventKind

LEVELS = {"county": "县", "town": "乡镇", "village": "村"}
# What may be added under each level: towns under a county, villages under a town, nothing under a village.
CHILD_LEVEL = {"county": "town", "town": "village"}
MAX_NAME_LENGTH = 100
# 统计用区划代码 (GB/T 2260 + GB/T 10114): 6 digits of county, 3 of town, 3 of village.
DIVISION_CODE = re.compile(r"\d{12}")
ROLE_CODE = re.compile(r"[a-z][a-z0-9_]{1,49}")


@dataclass(frozen=True)
class Place:
    """An org unit as the tree lists it, with its depth (0 for the county)."""

    unit: OrgUnit
    depth: int


def tree(session: Session) -> list[Place]:
    """Every unit, each followed by its children, children in division-code order."""
    units = session.scalars(select(OrgUnit).order_by(OrgUnit.code)).all()
    children: dict[int | None, list[OrgUnit]] = defaultdict(list)
    for unit in units:
        children[unit.parent_id].append(unit)
    places: list[Place] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for unit in children.get(parent_id, []):
            places.append(Place(unit, depth))
            walk(unit.id, depth + 1)

    walk(None, 0)
    return places


def org(session: Session, code: str) -> OrgUnit:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if unit is None:
        raise NotFound(f"行政区划代码“{code}”不存在")
    return unit


def _checked_name(name: str, what: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed(f"{what}名称须为 1–{MAX_NAME_LENGTH} 个字符", fields={"name": [f"请填写{what}名称"]})
    return name


def code_problem(code: str, parent: OrgUnit) -> str | None:
    """Why `code` cannot be a new unit's division code under `parent`, or None when it can."""
    level = CHILD_LEVEL.get(parent.level)
    if level is None:
        return f"{parent.name}是村级单位，其下不能再设下级单位"
    if not DIVISION_CODE.fullmatch(code):
        return "行政区划代码须为 12 位数字"
    if level == "town":
        if code[:6] != parent.code[:6]:
            return f"乡镇代码的前 6 位须为所属县的代码 {parent.code[:6]}"
        if code[6:9] == "000" or code[9:] != "000":
            return "乡镇代码的第 7–9 位为乡镇序号（不能为 000），末 3 位须为 000"
    elif code[:9] != parent.code[:9] or code[9:] == "000":
        return f"村代码的前 9 位须为所属乡镇的代码 {parent.code[:9]}，末 3 位为村序号（不能为 000）"
    return None


def add_org(session: Session, code: str, name: str, parent_code: str, *, by: Acting | None = None) -> OrgUnit:
    """A town under the county or a village under a town, with its 12-digit division code."""
    code, name = code.strip(), _checked_name(name, "单位")
    parent = org(session, parent_code)
    problem = code_problem(code, parent)
    if problem:
        raise ValidationFailed(problem, fields={"code": [problem]})
    if session.scalar(select(OrgUnit.id).where(OrgUnit.code == code)) is not None:
        raise Conflict(f"行政区划代码 {code} 已存在", details=[f"行政区划代码 {code} 已存在"])
    unit = OrgUnit(code=code, name=name, level=CHILD_LEVEL[parent.level], parent_id=parent.id)
    session.add(unit)
    session.flush()
    system.append(session, SystemEventKind.ORG_ADDED, by, clock.now(), code,
                  after={"name": name, "level": unit.level, "parent": parent.code})
    return unit


def rename_org(session: Session, code: str, name: str, *, by: Acting | None = None) -> OrgUnit:
    unit = org(session, code)
    name = _checked_name(name, "单位")
    if name == unit.name:
        raise ValidationFailed("新名称与原名称相同", fields={"name": ["新名称与原名称相同"]})
    before, unit.name = unit.name, name
    system.append(session, SystemEventKind.ORG_CHANGED, by, clock.now(), code,
                  before={"name": before}, after={"name": name})
    return unit


MAX_ADDRESS_LENGTH = 200
MAX_PHONE_LENGTH = 40


def set_contact(session: Session, code: str, address: str, phone: str, *, by: Acting | None = None) -> OrgUnit:
    """Where a town's or the county's service window is and its phone, as the public guide shows them."""
    unit = org(session, code)
    address, phone = address.strip(), phone.strip()
    fields: dict[str, list[str]] = {}
    if len(address) > MAX_ADDRESS_LENGTH:
        fields["address"] = [f"地址不能超过 {MAX_ADDRESS_LENGTH} 个字"]
    if len(phone) > MAX_PHONE_LENGTH or any(ch not in "0123456789-（）() 、,，转" for ch in phone):
        fields["phone"] = ["电话只能含数字、连字符、括号、空格和分隔号，如 028-85550211"]
    if fields:
        problems = [text for texts in fields.values() for text in texts]
        raise ValidationFailed("；".join(problems), details=problems, fields=fields)
    before = {"address": unit.address, "phone": unit.phone}
    unit.address, unit.phone = address or None, phone or None
    system.append(session, SystemEventKind.ORG_CHANGED, by, clock.now(), code,
                  before=before, after={"address": unit.address, "phone": unit.phone})
    return unit


def roles(session: Session) -> list[Role]:
    return list(session.scalars(select(Role).order_by(Role.level, Role.code)))


def add_role(session: Session, code: str, name: str, level: str, *, by: Acting | None = None) -> Role:
    """A new post type; a lane may name its code from then on."""
    code, name = code.strip(), _checked_name(name, "角色")
    if not ROLE_CODE.fullmatch(code):
        message = "角色代码须以小写字母开头，只含小写字母、数字和下划线，2–50 个字符"
        raise ValidationFailed(message, fields={"code": [message]})
    if level not in LEVELS:
        raise ValidationFailed("层级只能是村、乡镇或县", fields={"level": ["请选择层级"]})
    if session.get(Role, code) is not None:
        raise Conflict(f"角色代码“{code}”已存在")
    role = Role(code=code, name=name, level=level)
    session.add(role)
    session.flush()
    system.append(session, SystemEventKind.ROLE_ADDED, by, clock.now(), code, after={"name": name, "level": level})
    return role


def rename_role(session: Session, code: str, name: str, *, by: Acting | None = None) -> Role:
    role = session.get(Role, code)
    if role is None:
        raise NotFound(f"角色“{code}”不存在")
    name = _checked_name(name, "角色")
    if name == role.name:
        raise ValidationFailed("新名称与原名称相同", fields={"name": ["新名称与原名称相同"]})
    before, role.name = role.name, name
    system.append(session, SystemEventKind.ROLE_CHANGED, by, clock.now(), code,
                  before={"name": before}, after={"name": name})
    return role


@dataclass(frozen=True)
class Post:
    """A role at an org unit and its active holders, A before B."""

    role: Role
    unit: OrgUnit
    holders: list[User]


def posts(session: Session) -> list[Post]:
    """Every post that has a holder, in org-tree order then role."""
    found: dict[tuple[str, int], list[User]] = defaultdict(list)
    holders = select(User).where(User.active.is_(True)).options(selectinload(User.substitute))
    for user in session.scalars(holders.order_by(User.post_rank, User.username)):
        found[(user.role_code, user.org_id)].append(user)
    order = {place.unit.id: index for index, place in enumerate(tree(session))}
    listed = [Post(holders[0].role, holders[0].org, holders) for holders in found.values()]
    return sorted(listed, key=lambda post: (order.get(post.unit.id, len(order)), post.role.code))
