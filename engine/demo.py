"""The demo county: org tree with division codes, one user per post (A and B on one), shipped procedures."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import democlock
from .models import OrgUnit, User
from .people import accounts
from .procedures.deploy import Deployed, deploy_folders

DEMO_PASSWORD = "bianmin2026"

# county → towns → villages: (code, name, login prefix)
COUNTY = ("510123", "青山县", "county")
TOWNS = [
    ("510123101000", "清水镇", "qingshui", [("510123101201", "东坡村", "dongpo"),
                                            ("510123101202", "河湾村", "hewan")]),
    ("510123102000", "石桥镇", "shiqiao", [("510123102201", "柳林村", "liulin"),
                                           ("510123102202", "红岩村", "hongyan")]),
]
# Each service centre's window as the public guide shows it (fictional, like the county).
CONTACTS = {
    "510123": ("青山县城关镇人民北路88号县政务服务中心一楼", "028-85550100"),
    "510123101000": ("青山县清水镇正街126号镇人民政府一楼", "028-85550211"),
    "510123102000": ("青山县石桥镇新街路45号镇人民政府东侧", "028-85550322"),
}
VILLAGE_POSTS = [("agent", "village_agent"), ("committee", "village_committee")]
TOWN_POSTS = [("window", "town_window"), ("civil", "town_civil_affairs"), ("land", "town_land"),
              ("planning", "town_planning"), ("leader", "town_leader"),
              ("forestry", "town_forestry"), ("health", "town_health"), ("agriculture", "town_agriculture")]
COUNTY_POSTS = [("county_civil", "county_civil_affairs"), ("county_land", "county_natural_resources"),
                ("county_hr", "county_human_resources"), ("county_health", "county_health"),
                ("county_disabled", "county_disabled_federation"),
                ("supervisor", "supervisor"), ("auditor", "auditor"), ("admin", "admin")]


def load(session: Session, procedures_dir: Path, max_diagram_bytes: int,
         created_by: str = "load-demo") -> list[Deployed]:
    """Idempotent: existing org units and users are kept; returns what was deployed.

    The database is marked as a demo one (`created_by`), the only kind whose clock may be moved.
    """
    democlock.mark(session, created_by)
    county = _org(session, COUNTY[0], COUNTY[1], "county", None)
    _users(session, COUNTY[0], [(login, role) for login, role in COUNTY_POSTS])
    for town_code, town_name, town_key, villages in TOWNS:
        town = _org(session, town_code, town_name, "town", county)
        _users(session, town_code, [(f"{town_key}_{suffix}", role) for suffix, role in TOWN_POSTS])
        for village_code, village_name, village_key in villages:
            _org(session, village_code, village_name, "village", town)
            _users(session, village_code, [(f"{village_key}_{suffix}", role) for suffix, role in VILLAGE_POSTS])
    # A/B post: the civil-affairs post of 清水镇 has a backup holder.
    if session.scalar(select(User.id).where(User.username == "qingshui_civil_b")) is None:
        accounts.add_user(session, "qingshui_civil_b", "town_civil_affairs", "510123101000",
                          password=DEMO_PASSWORD, post_rank="B")
    folders = sorted(p for p in procedures_dir.iterdir() if (p / "item.toml").exists())
    return deploy_folders(session, folders, max_diagram_bytes)


def _org(session: Session, code: str, name: str, level: str, parent: OrgUnit | None) -> OrgUnit:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if unit is None:
        unit = OrgUnit(code=code, name=name, level=level, parent_id=parent.id if parent else None)
        session.add(unit)
        session.flush()
    if unit.address is None and code in CONTACTS:
        # Only where none is set yet: an administrator's correction survives loading the demo again.
        unit.address, unit.phone = CONTACTS[code]
    return unit


def _users(session: Session, org_code: str, posts: list[tuple[str, str]]) -> None:
    for username, role in posts:
        if session.scalar(select(User.id).where(User.username == username)) is None:
            accounts.add_user(session, username, role, org_code, password=DEMO_PASSWORD)
