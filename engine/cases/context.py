"""What every case operation shares in a process: database, parsed versions, cached workflows, reference data."""

from __future__ import annotations

import time

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..db import Database
from ..deadlines import calendar
from ..models import Case, Role
from ..procedures.spiff import LoadedVersion, StateCache, VersionCache, load_state
from .incidents import RetryPolicy


class ReferenceData:
    """Calendar and roles, re-read at most every `ttl_seconds`: they change a few times a year."""

    def __init__(self, ttl_seconds: int) -> None:
        self.ttl_seconds = ttl_seconds
        self._loaded: tuple[float, calendar.WorkCalendar, dict[str, Role]] | None = None

    def _get(self, session: Session) -> tuple[calendar.WorkCalendar, dict[str, Role]]:
        if self._loaded is None or time.monotonic() - self._loaded[0] > self.ttl_seconds:
            roles = {role.code: role for role in session.scalars(select(Role))}
            for role in roles.values():
                session.expunge(role)
            self._loaded = (time.monotonic(), calendar.load(session), roles)
        return self._loaded[1], self._loaded[2]

    def calendar(self, session: Session) -> calendar.WorkCalendar:
        return self._get(session)[0]

    def role(self, session: Session, code: str) -> Role | None:
        role = self._get(session)[1].get(code)
        if role is None:
            # A role added since the last read: look again before refusing.
            self.forget()
            role = self._get(session)[1].get(code)
        return role

    def forget(self) -> None:
        """Call after the administrator changed roles or the holiday calendar in this process."""
        self._loaded = None


class Runtime:
    """Handed to every case operation; one per process."""

    def __init__(self, db: Database, reference_ttl_seconds: int = Settings.reference_ttl_seconds,
                 retry: RetryPolicy | None = None) -> None:
        self.db = db
        self.retry = retry or RetryPolicy()
        self.versions = VersionCache()
        self.states = StateCache()
        self.reference = ReferenceData(reference_ttl_seconds)

    def load(self, case: Case, version: LoadedVersion) -> BpmnWorkflow:
        """The case's workflow: this process's cached copy while the row keeps its revision, else the stored one."""
        cached = self.states.take(case.id, case.revision)
        return cached or load_state(case.workflow_state, version.spec, version.subprocess_specs)
