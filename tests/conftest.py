"""Shared fixtures: a demo database on SQLite and on PostgreSQL, users by name, a pinned clock."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from engine import clock, demo, setup
from engine.config import ROOT
from engine.models import User
from engine.services import Services, open_services

# The web app refuses to start without a session key; tests get a fresh random one, never a known constant.
os.environ.setdefault("BIANMIN_SECRET_KEY", secrets.token_hex(32))

PG_SERVER = os.environ.get("BIANMIN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ARTIFACTS = ROOT / "test-artifacts"
# A Monday in a year whose holidays are entered, so promised dates are computable.
TEST_START = datetime(2026, 3, 2, 9, 0, tzinfo=clock.SHANGHAI)


def pg_available() -> bool:
    try:
        engine = create_engine(PG_SERVER, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def fresh_pg_url(name: str) -> str:
    if not pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI but not reachable at {PG_SERVER}")
        pytest.skip("PostgreSQL not reachable")
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_SERVER.rsplit("/", 1)[0] + f"/{name}"


def make_services(kind: str, tmp: Path, name: str = "bianmin_test") -> Services:
    if kind == "sqlite":
        url = f"sqlite:///{tmp / (name + '.db')}"
    else:
        url = fresh_pg_url(f"{name}_{os.getpid()}")
    svc = open_services(url)
    setup.init(svc.db)
    with svc.db.write() as session:
        demo.load(session, ROOT / "bpmn", svc.settings.max_diagram_bytes, created_by="tests")
    return svc


@pytest.fixture(autouse=True)
def pinned_clock() -> Iterator[None]:
    clock.set_now(TEST_START)
    yield
    clock.reset()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def services(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The demo county on each database; engine tests run once per backend."""
    svc = make_services(request.param, tmp_path_factory.mktemp(request.param))
    yield svc
    svc.db.dispose()


@pytest.fixture(scope="session")
def sqlite_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    svc = make_services("sqlite", tmp_path_factory.mktemp("web"), "bianmin_web")
    yield svc
    svc.db.dispose()


def user_id(svc: Services, username: str) -> int:
    with svc.db.read() as session:
        found = session.scalar(select(User.id).where(User.username == username))
    assert found is not None, username
    return found
