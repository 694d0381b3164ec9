"""The SMTP connector against a real SMTP server (aiosmtpd) on 127.0.0.1: Chinese mail, STARTTLS, errors, secrets."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors import REGISTRY, ConnectorError
from connectors.smtp_mail import CONNECTOR
from engine import clock, secrets
from engine.errors import NotFound
from engine.services import Services

PASSWORD = "邮箱密码-Tr0ub4dor&3"
KEY = "0f4c2b7e-61aa-4d1e-9a3b-5c8d7e6f1a20"
BODY = "张三同志：\n\n您申请的农村居民最低生活保障已受理，办件编号 QS-2026-000123。\n\n青水镇便民服务中心"


class NoSecrets:
    def get(self, name: str) -> str:
        raise AssertionError(f"no secret expected, asked for {name}")


class Recorder:
    """Keeps what was delivered; `rcpt` and `data` replace the server's answers to test refusals."""

    def __init__(self) -> None:
        self.delivered: list[tuple[Envelope, Session]] = []
        self.rcpt: dict[str, str] = {}
        self.data: str | None = None

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.rcpt:
            return self.rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data:
            return self.data
        self.delivered.append((envelope, session))
        return "250 Message accepted for delivery"

    def message(self) -> email.message.EmailMessage:
        [(envelope, _)] = self.delivered
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


def password_check(echo: bool = False) -> Any:
    """An authenticator accepting the test password; with `echo`, one that repeats what it got in its refusal."""

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        if data.password.decode() == PASSWORD and not echo:
            return AuthResult(success=True, auth_data=data)
        said = data.password.decode()
        return AuthResult(success=False, handled=False,
                          message=f"535 5.7.8 bad credentials {said} {base64.b64encode(data.password).decode()}")

    return authenticate


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 and localhost: (cert.pem, key.pem)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(recorder: Recorder, **options: Any) -> Iterator[int]:
    """An aiosmtpd server on 127.0.0.1 for the duration of the block; yields its port."""
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, server_hostname="mail.test", **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def params(port: int, **more: Any) -> dict[str, Any]:
    found = {"to": ["zhangsan@example.cn", "lisi@example.cn"], "subject": "【便民服务】办件受理通知：最低生活保障",
             "body": BODY, "host": "127.0.0.1", "port": port, "sender": "bianmin@qingshui.gov.test", **more}
    assert CONNECTOR.check(found) == []
    return found


def send(found: dict[str, Any], secret_reader: Any = None) -> dict[str, Any]:
    return CONNECTOR.call(found, secret_reader or NoSecrets(), 5.0, KEY)


def test_registered_and_parameters_checked() -> None:
    assert REGISTRY["smtp/mail"] is CONNECTOR and CONNECTOR.secret_parameters == ("password_secret",)
    assert CONNECTOR.check({"to": ["not-an-address"], "subject": "a\r\nBcc: x@y.z", "body": "", "host": "h",
                            "sender": "a@b.c", "starttls": "sometimes"})
    without_user = {**params(25), "password_secret": "smtp.password"}
    assert CONNECTOR.check(without_user) == ["参数 （整体）：'username' is a dependency of 'password_secret'"]


def test_chinese_mail_is_delivered_with_the_idempotency_key() -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        result = send(params(port, starttls="auto"))
    message = recorder.message()
    assert message["Subject"] == "【便民服务】办件受理通知：最低生活保障"
    assert message.get_content().replace("\r\n", "\n").rstrip("\n") == BODY
    assert message.get_content_charset() == "utf-8"
    assert message["X-Idempotency-Key"] == KEY
    assert message["Message-ID"] == f"<bianmin.{KEY}@qingshui.gov.test>" == result["message_id"]
    assert message["From"] == "bianmin@qingshui.gov.test" and message["Date"]
    envelope, session = recorder.delivered[0]
    assert envelope.rcpt_tos == ["zhangsan@example.cn", "lisi@example.cn"] and session.ssl is None
    assert result["accepted"] == ["zhangsan@example.cn", "lisi@example.cn"] and result["refused"] == {}
    # The raw message stays 7-bit: Chinese travels encoded, readable by servers without SMTPUTF8.
    assert envelope.content.isascii()


def test_auto_uses_starttls_when_offered_and_logs_in_with_the_stored_password(
        certificate: tuple[Path, Path], sqlite_services: Services) -> None:
    settings = dataclasses.replace(sqlite_services.settings, secrets_key=Fernet.generate_key().decode())
    with sqlite_services.db.write() as session:
        secrets.store(session, "smtp.qingshui", PASSWORD, None, clock.now(), settings=settings)
    recorder = Recorder()
    with smtp_server(recorder, tls_context=server_tls(certificate), require_starttls=True, auth_required=True,
                     authenticator=password_check()) as port, sqlite_services.db.read() as session:
        result = send(params(port, username="bianmin", password_secret="smtp.qingshui",
                             ca_file=str(certificate[0])), secrets.reader(session, settings))
    _, server_session = recorder.delivered[0]
    assert server_session.ssl is not None and server_session.authenticated
    assert server_session.login_data == b"bianmin" and result["accepted"]
    assert recorder.message()["Subject"] == "【便民服务】办件受理通知：最低生活保障"


def test_certificates_are_verified_unless_turned_off(certificate: tuple[Path, Path]) -> None:
    recorder = Recorder()
    with smtp_server(recorder, tls_context=server_tls(certificate), require_starttls=True) as port:
        with pytest.raises(ConnectorError, match="证书校验失败") as refused:
            send(params(port))
        assert not refused.value.retryable and recorder.delivered == []
        send(params(port, verify_tls=False))
    assert recorder.delivered[0][1].ssl is not None


def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    recorder = Recorder()
    with smtp_server(recorder, ssl_context=server_tls(certificate)) as port:
        send(params(port, starttls="tls", ca_file=str(certificate[0])))
    assert recorder.message()["X-Idempotency-Key"] == KEY


def test_require_refuses_a_server_without_starttls() -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port, pytest.raises(ConnectorError, match="不支持 STARTTLS") as refused:
        send(params(port, starttls="require"))
    assert not refused.value.retryable and recorder.delivered == []


def test_auto_never_sends_a_password_in_clear(sqlite_services: Services) -> None:
    recorder = Recorder()
    secrets_given = {"smtp.plain": PASSWORD}
    with smtp_server(recorder, auth_require_tls=False, authenticator=password_check()) as port:
        with pytest.raises(ConnectorError, match="拒绝以明文发送登录密码") as refused:
            send(params(port, username="bianmin", password_secret="smtp.plain"), _Fixed(secrets_given))
        assert not refused.value.retryable and recorder.delivered == []
        # Said explicitly (a relay on the same machine), it is allowed.
        send(params(port, username="bianmin", password_secret="smtp.plain", starttls="off"), _Fixed(secrets_given))
    assert recorder.delivered[0][1].authenticated


def test_a_refused_password_never_appears_in_the_error(certificate: tuple[Path, Path]) -> None:
    recorder = Recorder()
    tls, echo = server_tls(certificate), password_check(echo=True)
    with smtp_server(recorder, tls_context=tls, authenticator=echo) as port, pytest.raises(ConnectorError) as refused:
        send(params(port, username="bianmin", password_secret="pw", ca_file=str(certificate[0])),
             _Fixed({"pw": PASSWORD}))
    text = f"{refused.value.message} {refused.value!r} {refused.value.__cause__!r} {refused.value.__context__!r}"
    assert PASSWORD not in text and base64.b64encode(PASSWORD.encode()).decode() not in text
    assert "535" in refused.value.message and "***" in refused.value.message and not refused.value.retryable


def test_connection_refused_is_retryable() -> None:
    with pytest.raises(ConnectorError, match="连接被拒绝") as refused:
        send(params(free_port()))
    assert refused.value.retryable


def test_a_server_that_never_answers_times_out_retryably() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        found = params(silent.getsockname()[1])
        with pytest.raises(ConnectorError, match="超时") as refused:
            CONNECTOR.call(found, NoSecrets(), 0.5, KEY)
    assert refused.value.retryable


@pytest.mark.parametrize(("where", "reply", "retryable"), [
    ("data", "554 5.7.1 Message rejected as spam", False),
    ("rcpt", "550 5.1.1 用户不存在", False),
    ("data", "451 4.3.0 Temporary local problem, try later", True),
    ("rcpt", "450 4.2.1 Mailbox busy", True),
])
def test_smtp_replies_decide_retrying(where: str, reply: str, retryable: bool) -> None:
    recorder = Recorder()
    if where == "data":
        recorder.data = reply
    else:
        recorder.rcpt = {"zhangsan@example.cn": reply, "lisi@example.cn": reply}
    with smtp_server(recorder) as port, pytest.raises(ConnectorError) as refused:
        send(params(port))
    assert refused.value.retryable is retryable
    assert reply.split()[0] in refused.value.message and recorder.delivered == []


def test_one_refused_recipient_does_not_fail_the_mail_sent_to_the_others() -> None:
    recorder = Recorder()
    recorder.rcpt = {"lisi@example.cn": "550 5.1.1 用户不存在"}
    with smtp_server(recorder) as port:
        result = send(params(port))
    assert result["accepted"] == ["zhangsan@example.cn"]
    assert result["refused"]["lisi@example.cn"].startswith("550 5.1.1")


def test_a_failed_goodbye_after_acceptance_is_still_a_sent_mail() -> None:
    class RudeQuit(Recorder):
        async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            return "421 4.3.2 Shutting down"

    recorder = RudeQuit()
    with smtp_server(recorder) as port:
        result = send(params(port))
    assert len(recorder.delivered) == 1 and result["accepted"]


def test_an_unknown_secret_is_reported_before_connecting(sqlite_services: Services) -> None:
    settings = dataclasses.replace(sqlite_services.settings, secrets_key=Fernet.generate_key().decode())
    with sqlite_services.db.read() as session, pytest.raises(NotFound, match="no.such.secret"):
        send(params(free_port(), username="u", password_secret="no.such.secret"), secrets.reader(session, settings))


class _Fixed:
    """Secrets from a dict, for tests about the SMTP exchange rather than storage."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str:
        return self.values[name]
