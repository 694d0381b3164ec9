"""E-mail over SMTP (smtplib): a plain-text UTF-8 message, STARTTLS when offered or required, certificates verified."""

from __future__ import annotations

import base64
import hashlib
import re
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from .base import Connector, ConnectorError, Secrets, register

ADDRESS = r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}$"
# Message-ID's left part must be dot-atom text; an idempotency key outside that is hashed rather than refused.
MESSAGE_ID_SAFE = re.compile(r"[A-Za-z0-9._-]{1,64}")

PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["to", "subject", "body", "host", "sender"],
    "properties": {
        "to": {"type": "array", "minItems": 1, "maxItems": 50, "uniqueItems": True,
               "items": {"type": "string", "pattern": ADDRESS, "maxLength": 320}},
        "subject": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\r\n]*$"},
        "body": {"type": "string", "maxLength": 200_000},
        "host": {"type": "string", "pattern": r"^[A-Za-z0-9.:\[\]-]{1,253}$"},
        # Unset: 465 when starttls is "tls", else 587 (mail submission).
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "sender": {"type": "string", "pattern": ADDRESS, "maxLength": 320},
        "username": {"type": "string", "minLength": 1, "maxLength": 320},
        # The name of a stored secret holding the password; the diagram never holds the password itself.
        "password_secret": {"type": "string", "maxLength": 100},
        # auto: STARTTLS whenever the server offers it; require: refuse a server that does not; tls: the connection
        # is TLS from the start (port 465, common with Chinese mail providers); off: plain text throughout.
        "starttls": {"enum": ["auto", "require", "tls", "off"], "default": "auto"},
        "verify_tls": {"type": "boolean", "default": True},
        # A PEM file of the certificate authorities to trust instead of the system's (a county's own mail server).
        "ca_file": {"type": "string", "maxLength": 1000},
    },
    "dependentRequired": {"password_secret": ["username"], "username": ["password_secret"]},
}
RESULT = {
    "type": "object",
    "properties": {
        "message_id": {"type": "string"},
        "accepted": {"type": "array", "items": {"type": "string"}},
        # Recipients the server refused while it accepted others: the mail went out, so retrying would duplicate it.
        "refused": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def message_id(idempotency_key: str, sender: str) -> str:
    """The same key gives the same Message-ID on every attempt, so a receiving system can drop a duplicate."""
    local = idempotency_key if MESSAGE_ID_SAFE.fullmatch(idempotency_key) else hashlib.sha256(
        idempotency_key.encode()).hexdigest()[:40]
    return f"<bianmin.{local}@{sender.rsplit('@', 1)[1]}>"


def compose(params: Mapping[str, Any], idempotency_key: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = params["sender"]
    message["To"] = ", ".join(params["to"])
    message["Subject"] = params["subject"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(idempotency_key, params["sender"])
    message["X-Idempotency-Key"] = idempotency_key
    message.set_content(params["body"], charset="utf-8")
    return message


def _tls_context(params: Mapping[str, Any]) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=params.get("ca_file"))
    except (OSError, ssl.SSLError) as exc:
        raise ConnectorError(f"无法读取 CA 证书文件 {params.get('ca_file')}：{exc}", retryable=False) from None
    if params.get("verify_tls") is False:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def _reply(code: int, text: bytes | str) -> str:
    reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {reply}".strip()


def _mapped(exc: BaseException, where: str, timeout_seconds: float) -> ConnectorError:
    """What a failure means for the case: 4xx replies and network trouble may pass, 5xx replies will not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = {address: _reply(code, text) for address, (code, text) in exc.recipients.items()}
        listed = "；".join(f"{address}：{reply}" for address, reply in replies.items())
        retryable = any(400 <= code < 500 for code, _ in exc.recipients.values())
        return ConnectorError(f"邮件服务器拒收全部收件人（{listed}）", retryable=retryable)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        kind = "暂时" if 400 <= code < 500 else ""
        return ConnectorError(f"邮件服务器{kind}拒绝（{where}）：{_reply(code, exc.smtp_error)}",
                              retryable=400 <= code < 500)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib turns a read that timed out into a disconnection; the cause tells them apart.
        if isinstance(exc.__context__, TimeoutError):
            return ConnectorError(f"邮件服务器 {timeout_seconds:g} 秒内未应答（{where}，超时）", retryable=True)
        return ConnectorError(f"邮件服务器断开了连接（{where}）", retryable=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConnectorError(f"邮件服务器的 TLS 证书校验失败：{exc.verify_message}", retryable=False)
    if isinstance(exc, ssl.SSLError):
        return ConnectorError(f"与邮件服务器的 TLS 握手失败：{exc.reason or exc}", retryable=False)
    if isinstance(exc, TimeoutError):
        return ConnectorError(f"邮件服务器 {timeout_seconds:g} 秒内未应答（{where}，超时）", retryable=True)
    if isinstance(exc, smtplib.SMTPException):
        return ConnectorError(f"邮件发送失败（{where}）：{exc}", retryable=False)
    if isinstance(exc, ConnectionRefusedError):
        return ConnectorError("无法连接邮件服务器：连接被拒绝", retryable=True)
    return ConnectorError(f"无法连接邮件服务器：{exc}", retryable=True)


def _plain(username: str, password: str) -> str:
    return base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")


def _scrubbed(error: ConnectorError, username: str, password: str | None) -> ConnectorError:
    """A server may echo what it was sent; the password (or its base64 in AUTH) never reaches a log or an event."""
    if not password:
        return error
    message = error.message
    for form in (password, base64.b64encode(password.encode()).decode(), _plain(username, password)):
        message = message.replace(form, "***")
    return ConnectorError(message, retryable=error.retryable)


def _login(client: smtplib.SMTP, username: str, password: str) -> None:
    """smtplib encodes credentials as ASCII only; AUTH PLAIN is UTF-8 (RFC 4616), so a Chinese password uses it."""
    if (username + password).isascii():
        client.login(username, password)
        return
    if "PLAIN" not in client.esmtp_features.get("auth", "").upper().split():
        raise ConnectorError("用户名或密码含非 ASCII 字符，只能以 AUTH PLAIN 登录，而邮件服务器未提供该方式",
                             retryable=False)
    response = _plain(username, password)
    code, text = client.docmd("AUTH", f"PLAIN {response}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, text)


def _hang_up(client: smtplib.SMTP) -> None:
    """QUIT without letting its answer count: once the mail is accepted, a failed goodbye must not cause a resend
    (smtplib's own context manager raises on a QUIT reply other than 221)."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def call(params: Mapping[str, Any], secrets: Secrets, timeout_seconds: float, idempotency_key: str) -> dict[str, Any]:
    mode = params.get("starttls", "auto")
    host, port = params["host"], params.get("port", 465 if mode == "tls" else 587)
    # Read before connecting: an unknown secret is a configuration error, not a reason to open a connection.
    password = secrets.get(params["password_secret"]) if params.get("password_secret") else None
    message = compose(params, idempotency_key)
    where = "连接"
    failure: ConnectorError | None = None
    client: smtplib.SMTP | None = None
    try:
        if mode == "tls":
            client = smtplib.SMTP_SSL(host, port, timeout=timeout_seconds, context=_tls_context(params))
        else:
            client = smtplib.SMTP(host, port, timeout=timeout_seconds)
        where = "EHLO"
        client.ehlo()
        encrypted = mode == "tls"
        if mode in ("auto", "require"):
            if client.has_extn("starttls"):
                where = "STARTTLS"
                client.starttls(context=_tls_context(params))
                client.ehlo()
                encrypted = True
            elif mode == "require":
                raise ConnectorError(f"邮件服务器 {host}:{port} 不支持 STARTTLS，"
                                     "而本次发送要求加密（starttls=require）", retryable=False)
        if password is not None:
            if not encrypted and mode != "off":
                # "auto" means encrypt when possible, not send a password in clear when it is not.
                raise ConnectorError(f"邮件服务器 {host}:{port} 未提供 STARTTLS，拒绝以明文发送登录密码；"
                                     "如确需明文（仅限本机或内网中继），请设 starttls=off", retryable=False)
            where = "登录"
            _login(client, params["username"], password)
        where = "发送"
        refused = client.send_message(message)
    except ConnectorError as exc:
        failure = _scrubbed(exc, params.get("username", ""), password)
    except (smtplib.SMTPException, OSError) as exc:
        failure = _scrubbed(_mapped(exc, where, timeout_seconds), params.get("username", ""), password)
    finally:
        if client is not None:
            _hang_up(client)
    if failure is not None:
        # Raised outside the handler so it carries no __context__: the original may quote the server's echo.
        raise failure
    refused_text = {address: _reply(code, text) for address, (code, text) in refused.items()}
    return {"message_id": message["Message-ID"], "accepted": [a for a in params["to"] if a not in refused_text],
            "refused": refused_text}


CONNECTOR = register(Connector("smtp/mail", "发送电子邮件（SMTP）", PARAMETERS, RESULT, call,
                               secret_parameters=("password_secret",)))
