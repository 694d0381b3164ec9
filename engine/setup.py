"""Bringing a database up: schema migrations, built-in roles, the shipped holiday calendar."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from . import clock
from .audit import system
from .config import ROOT
from .db import Database, without_timeouts
from .deadlines import calendar
from .models import Role
from .vocabulary import SystemEventKind

ROLES = [
    ("village_agent", "代办员", "village"),
    ("village_committee", "村委会", "village"),
    ("town_window", "便民服务中心窗口", "town"),
    ("town_civil_affairs", "民政办", "town"),
    ("town_land", "国土所", "town"),
    ("town_planning", "村镇规划建设办", "town"),
    ("town_leader", "分管领导", "town"),
    # 农经发〔2019〕6号: the town's 农业农村 office reviews a 宅基地 application beside 自然资源 and planning.
    ("town_agriculture", "农业农村办", "town"),
    ("town_forestry", "林业站", "town"),
    ("town_health", "卫健办", "town"),
    ("county_civil_affairs", "县民政局", "county"),
    ("county_natural_resources", "县自然资源局", "county"),
    ("county_medical_security", "县医疗保障局", "county"),
    ("county_disabled_federation", "县残联", "county"),
    ("county_human_resources", "县人力资源和社会保障局", "county"),
    ("county_health", "县卫生健康局", "county"),
    ("supervisor", "电子监察", "county"),
    ("auditor", "审计", "county"),
    ("admin", "系统管理员", "county"),
]


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration; given a connection, migrations run inside the caller's transaction."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Migrate the schema to `revision` inside the connection's transaction (committed with it)."""
    without_timeouts(connection)
    command.upgrade(alembic_config(connection), revision)


def migrate(db: Database) -> None:
    """Upgrade to this code's head; an upgrade that changed the schema goes on the system chain in its transaction."""
    with db.engine.begin() as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        upgrade(connection)
        after = MigrationContext.configure(connection).get_current_revision()
        if after != before:
            with Session(bind=connection) as session:
                system.append(session, SystemEventKind.MIGRATION_APPLIED, None, clock.now(),
                              f"{before or '-'} → {after}", before={"revision": before}, after={"revision": after})


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "migrations/versions holds no migration"
    return head


def knows_revision(revision: str) -> bool:
    """Whether `revision` is one of this code's migrations (a later release's is not)."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def install_reference_data(session: Session) -> None:
    for code, name, level in ROLES:
        if session.get(Role, code) is None:
            session.add(Role(code=code, name=name, level=level))
    calendar.install_shipped(session)


def init(db: Database) -> None:
    migrate(db)
    with db.write() as session:
        install_reference_data(session)
