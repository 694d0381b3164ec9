"""Stored secrets: encrypted at rest with BIANMIN_SECRETS_KEY, read back by name, never shown or logged."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from engine import clock, secrets
from engine.config import Settings
from engine.errors import NotFound, SecretsUnavailable, ValidationFailed
from engine.models import SystemEvent
from engine.models.outbox import Secret
from engine.services import Services
from tests.conftest import user_id

VALUE = "短信网关密钥-sk_live_9f8e7d6c5b4a"


def keyed(svc: Services, key: str | None = None) -> Settings:
    return dataclasses.replace(svc.settings, secrets_key=key or Fernet.generate_key().decode())


def test_round_trip_encrypted_at_rest_and_recorded_by_name(services: Services) -> None:
    settings = keyed(services)
    admin = user_id(services, "admin")
    with services.db.write() as session:
        secrets.store(session, "sms.gateway-key_1", VALUE, admin, clock.now(), settings=settings)
    with services.db.read() as session:
        assert secrets.reader(session, settings).get("sms.gateway-key_1") == VALUE
        ciphertext = session.scalar(select(Secret.ciphertext).where(Secret.name == "sms.gateway-key_1"))
        event = session.scalars(select(SystemEvent).where(SystemEvent.kind == "secret_set")
                                .order_by(SystemEvent.seq.desc())).first()
    assert ciphertext and VALUE not in ciphertext and VALUE.encode().hex() not in ciphertext
    assert event is not None and event.subject == "sms.gateway-key_1" and event.actor_id == admin
    assert VALUE not in repr((event.before, event.after, event.subject))

    # Setting it again replaces the value under the same name.
    with services.db.write() as session:
        secrets.store(session, "sms.gateway-key_1", "新的值", admin, clock.now(), settings=settings)
    with services.db.read() as session:
        assert secrets.reader(session, settings).get("sms.gateway-key_1") == "新的值"
        assert secrets.names(session).count("sms.gateway-key_1") == 1


def test_a_reader_on_the_database_serves_several_threads(services: Services) -> None:
    settings = keyed(services)
    with services.db.write() as session:
        for n in range(4):
            secrets.store(session, f"thread.{n}", f"{VALUE}-{n}", None, clock.now(), settings=settings)
    shared = secrets.reader(services.db, settings)
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda n: shared.get(f"thread.{n % 4}"), range(16)))
    assert found == [f"{VALUE}-{n % 4}" for n in range(16)]
    with pytest.raises(NotFound):
        shared.get("thread.none")


def test_names_never_show_values(services: Services) -> None:
    settings = keyed(services)
    with services.db.write() as session:
        secrets.store(session, "smtp.password", "p@ss-邮箱-1", None, clock.now(), settings=settings)
    with services.db.read() as session:
        listed = secrets.names(session)
    assert "smtp.password" in listed and all(isinstance(name, str) for name in listed)
    assert "p@ss-邮箱-1" not in repr(listed)


def test_wrong_key_and_unknown_name_give_clear_errors(services: Services) -> None:
    settings = keyed(services)
    with services.db.write() as session:
        secrets.store(session, "rotated", VALUE, None, clock.now(), settings=settings)
    with services.db.read() as session:
        with pytest.raises(SecretsUnavailable, match="不是保存它时所用的密钥") as wrong:
            secrets.reader(session, keyed(services)).get("rotated")
        assert VALUE not in wrong.value.message
        with pytest.raises(NotFound, match="“no-such-secret”不存在"):
            secrets.reader(session, settings).get("no-such-secret")
        # A new key first and the old one after it: existing secrets still open while new ones use the new key.
        rotated = keyed(services, f"{Fernet.generate_key().decode()},{settings.secrets_key}")
        assert secrets.reader(session, rotated).get("rotated") == VALUE
        with pytest.raises(SecretsUnavailable, match="格式不正确") as malformed:
            secrets.reader(session, keyed(services, "not-a-fernet-key")).get("rotated")
        assert "not-a-fernet-key" not in malformed.value.message


def test_missing_key_refuses_with_how_to(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BIANMIN_SECRETS_KEY", raising=False)
    unset = "未配置机密加密密钥 BIANMIN_SECRETS_KEY"
    with services.db.write() as session, pytest.raises(SecretsUnavailable, match=unset) as refused:
        secrets.store(session, "unkeyed", VALUE, None, clock.now())
    assert "Fernet.generate_key()" in refused.value.message
    with services.db.read() as session:
        assert "unkeyed" not in secrets.names(session)
    # A secret stored by a process with the key cannot be read by one without it.
    with services.db.write() as session:
        secrets.store(session, "keyed-elsewhere", VALUE, None, clock.now(), settings=keyed(services))
    with services.db.read() as session, pytest.raises(SecretsUnavailable, match="BIANMIN_SECRETS_KEY"):
        secrets.reader(session, dataclasses.replace(services.settings, secrets_key=None)).get("keyed-elsewhere")


def test_environment_key_is_read(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("BIANMIN_SECRETS_KEY", key)
    with services.db.write() as session:
        secrets.store(session, "from-env", VALUE, None, clock.now())
    with services.db.read() as session:
        assert secrets.reader(session, keyed(services, key)).get("from-env") == VALUE


@pytest.mark.parametrize(("name", "value", "field"), [
    ("", VALUE, "name"), ("有中文", VALUE, "name"), ("a b", VALUE, "name"), ("x" * 101, VALUE, "name"),
    ("ok", "", "value"), ("ok", "密" * 1366, "value"),
])
def test_names_and_values_are_checked(services: Services, name: str, value: str, field: str) -> None:
    with services.db.write() as session, pytest.raises(ValidationFailed) as refused:
        secrets.store(session, name, value, None, clock.now(), settings=keyed(services))
    assert field in refused.value.fields and "机密未保存" in refused.value.message
    assert value[:20] not in refused.value.message or not value
