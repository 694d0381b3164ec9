"""Wiring: one object holding settings, database and case service for a process."""

from __future__ import annotations

from dataclasses import dataclass

from .cases.incidents import RetryPolicy
from .cases.service import CaseService
from .config import Settings, load_settings
from .db import Database
from .outbox.applicant import ApplicantSms
from .scriptpool import Limits, configure


@dataclass
class Services:
    settings: Settings
    db: Database
    cases: CaseService


def open_services(database_url: str | None = None) -> Services:
    settings = load_settings()
    configure(Limits(settings.script_seconds, settings.script_memory_mb, settings.script_workers))
    db = Database(database_url or settings.database_url, lock_timeout=settings.lock_timeout_seconds,
                  statement_timeout=settings.statement_timeout_seconds)
    retry = RetryPolicy(settings.incident_retry_seconds, settings.incident_max_attempts)
    sms = ApplicantSms(settings.sms_gateway_url, settings.sms_key_secret) if settings.sms_gateway_url else None
    return Services(settings=settings, db=db, cases=CaseService(db, settings.reference_ttl_seconds, retry, sms))
