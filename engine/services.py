"""Wiring: one object holding settings, database and case service for a process."""

from __future__ import annotations

from dataclasses import dataclass

from .cases.incidents import RetryPolicy
from .cases.service import CaseService
from .config import NotConfigured, Settings, load_settings
from .db import Database
from .outbox import codetable, outbound
from .scriptpool import Limits, configure


@dataclass
class Services:
    settings: Settings
    db: Database
    cases: CaseService

    def outbound(self) -> outbound.Outbound | None:
        """Where this process's messages go out (carried by every write session)."""
        return self.db.session_info.get(outbound.SESSION_KEY)


def open_services(database_url: str | None = None) -> Services:
    settings = load_settings()
    # Checked before anything opens: a process that could not send what it must does not start.
    out = outbound_of(settings)
    configure(Limits(settings.script_seconds, settings.script_memory_mb, settings.script_workers))
    db = Database(database_url or settings.database_url, lock_timeout=settings.lock_timeout_seconds,
                  statement_timeout=settings.statement_timeout_seconds)
    retry = RetryPolicy(settings.incident_retry_seconds, settings.incident_max_attempts)
    db.session_info[outbound.SESSION_KEY] = out
    return Services(settings=settings, db=db, cases=CaseService(db, settings.reference_ttl_seconds, retry))


def outbound_of(settings: Settings) -> outbound.Outbound:
    """Where this process's messages go out, as the settings name it."""
    if settings.smtp_host and not settings.smtp_sender:
        raise NotConfigured("设置了邮件服务器 BIANMIN_SMTP_HOST，还须用 BIANMIN_SMTP_SENDER 设置发件地址，服务未启动")
    mail = outbound.MailServer(settings.smtp_host, settings.smtp_port, settings.smtp_sender, settings.smtp_starttls,
                               settings.smtp_username, settings.smtp_password_secret) if settings.smtp_host else None
    if settings.case_report_url and settings.case_report_codes is None:
        raise NotConfigured("设置了办件信息上报地址 BIANMIN_CASE_REPORT_URL，还须用 BIANMIN_CASE_REPORT_CODES "
                            "指定本省的代码对照表（TOML），服务未启动")
    codes = codetable.load(settings.case_report_codes) if settings.case_report_codes else None
    return outbound.Outbound(settings.notify_daily_cap, settings.sms_gateway_url, settings.sms_key_secret, mail,
                             settings.case_report_url, settings.case_report_key_secret, codes)
