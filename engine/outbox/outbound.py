"""Where messages leave the county (the SMS gateway, the mail server, the upstream platform's case report) and how
many one person gets a day."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from .codetable import CodeTable

# The key under which a write session carries the process's Outbound (Database.session_info).
SESSION_KEY = "outbound"


@dataclass(frozen=True)
class MailServer:
    """The county's SMTP server; the password is a stored secret named here, never the password itself."""

    host: str
    port: int
    sender: str
    starttls: str = "auto"
    username: str | None = None
    password_secret: str | None = None

    def params(self) -> dict[str, object]:
        """The smtp/mail connector's server parameters."""
        params: dict[str, object] = {"host": self.host, "port": self.port, "sender": self.sender,
                                     "starttls": self.starttls}
        if self.username:
            params.update(username=self.username, password_secret=self.password_secret or "")
        return params


@dataclass(frozen=True)
class Outbound:
    """What this process may send: SMS through `sms_gateway_url` (its key in the secret `sms_key_secret`), e-mail
    through `mail`, each case's 办件信息上报 to `case_report_url` (a bearer token from the secret
    `case_report_key_secret`, if named) coded by the province's `case_report_codes`; any may be missing, and then
    nothing goes that way. `daily_cap` bounds the messages any one person (a staff member, an applicant's number or
    address) is sent in a day, across all channels."""

    daily_cap: int
    sms_gateway_url: str | None = None
    sms_key_secret: str = "sms_gateway_key"
    mail: MailServer | None = None
    case_report_url: str | None = None
    case_report_key_secret: str | None = None
    case_report_codes: CodeTable | None = None


def of(session: Session) -> Outbound | None:
    """The Outbound of the process that opened this write session; None where nothing is configured to go out."""
    return session.info.get(SESSION_KEY)
