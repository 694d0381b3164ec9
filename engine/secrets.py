"""Secrets the connectors use (API keys, passwords): stored encrypted with BIANMIN_SECRETS_KEY, read only by name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from .audit import system
from .config import Settings, load_settings
from .db import Database
from .errors import NotFound, SecretsUnavailable, ValidationFailed
from .models import ProcedureVersion, ServiceItem, User
from .models.outbox import Secret
from .outbox import calls
from .vocabulary import SystemEventKind

if TYPE_CHECKING:
    from .outbox.outbound import Outbound
    from .procedures.spiff import VersionCache

NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
MAX_VALUE_BYTES = 4096
KEY_HOWTO = ("请生成一个密钥："
             "python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"，"
             "以环境变量 BIANMIN_SECRETS_KEY 提供给所有运行 Bianmin 的进程，并另行妥善备份（丢失后已存的机密无法解开）")


def _cipher(settings: Settings) -> MultiFernet:
    """The configured key(s); the first encrypts, every one decrypts, so a key can be replaced without a gap.

    There is no default: a key derived from the session key (or any value in the repository or the instance
    folder) would sit beside the database it protects, so a copied database and instance folder would reveal
    every password. A process without the variable stores nothing and reads nothing.
    """
    if not settings.secrets_key:
        raise SecretsUnavailable(f"未配置机密加密密钥 BIANMIN_SECRETS_KEY，无法保存或读取机密。{KEY_HOWTO}")
    try:
        return MultiFernet([Fernet(key.strip()) for key in settings.secrets_key.split(",") if key.strip()])
    except (ValueError, TypeError):
        # The message never quotes the variable: it is the key itself.
        raise SecretsUnavailable("BIANMIN_SECRETS_KEY 格式不正确：应为 44 个字符的 URL 安全 Base64 文本"
                                 f"（32 字节随机数），多个密钥以英文逗号分隔。{KEY_HOWTO}") from None


def _checked(name: str, value: str) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if not NAME.fullmatch(name or ""):
        problems["name"] = ["机密名称只能由英文字母、数字和 _ - . 组成，长度 1 至 100 个字符"]
    if not value:
        problems["value"] = ["机密内容不能为空"]
    elif len(value.encode()) > MAX_VALUE_BYTES:
        problems["value"] = [f"机密内容不能超过 {MAX_VALUE_BYTES // 1024} KB"]
    return problems


def store(session: Session, name: str, value: str, actor_id: int | None, now: datetime, *,
          settings: Settings | None = None) -> None:
    """Encrypt and keep `value` under `name` (replacing an earlier one), recording on the system chain that it was
    set; the event names the secret, never its value. `settings` defaults to the environment's."""
    problems = _checked(name, value)
    if problems:
        raise ValidationFailed("机密未保存：" + "；".join(m for ms in problems.values() for m in ms), fields=problems)
    ciphertext = _cipher(settings or load_settings()).encrypt(value.encode()).decode("ascii")
    row = session.get(Secret, name)
    replaced = row is not None
    if row is None:
        row = Secret(name=name, ciphertext=ciphertext, updated_at=now, updated_by_id=actor_id)
        session.add(row)
    else:
        row.ciphertext, row.updated_at, row.updated_by_id = ciphertext, now, actor_id
    actor = session.get(User, actor_id) if actor_id is not None else None
    system.append(session, SystemEventKind.SECRET_SET, actor, now, name, after={"replaced": replaced})


def names(session: Session) -> list[str]:
    """The stored secrets' names, sorted; values are never read here."""
    return list(session.scalars(select(Secret.name).order_by(Secret.name)))


@dataclass(frozen=True)
class Listed:
    """A stored secret as administrators see it: its name, when and by whom it was last set; never its value."""

    name: str
    updated_at: datetime
    updated_by: str | None


def listed(session: Session) -> list[Listed]:
    """The stored secrets by name; the ciphertext column is not even read."""
    rows = session.execute(select(Secret.name, Secret.updated_at, User.display_name)
                           .outerjoin(User, User.id == Secret.updated_by_id).order_by(Secret.name))
    return [Listed(row.name, row.updated_at, row.display_name) for row in rows]


@dataclass(frozen=True)
class Reference:
    """Where a secret's name is used: a setting of this process (its environment variable), or a service task of
    an item's current procedure version. An `optional` one is used only once stored (the population look-up goes
    without a key until then); any other fails its calls until an administrator enters it."""

    setting: str | None = None
    item_code: str | None = None
    item_name: str | None = None
    version: int | None = None
    step: str | None = None
    optional: bool = False


def references(session: Session, versions: VersionCache, settings: Settings,
               out: Outbound | None) -> dict[str, list[Reference]]:
    """Each secret name this process's settings (`settings`, and `out`, where its messages go) or the current
    procedures use, with where; a name may be used before a secret is stored under it."""
    found: dict[str, list[Reference]] = {}
    # (the name, if that way out is configured; the variable that names it; whether calls go on without it)
    named: list[tuple[str | None, str, bool]] = [
        (settings.population_key_secret if settings.population_url else None, "BIANMIN_POPULATION_KEY_SECRET", True)]
    if out is not None:
        named += [(out.sms_key_secret if out.sms_gateway_url else None, "BIANMIN_SMS_KEY_SECRET", False),
                  (out.mail.password_secret if out.mail and out.mail.username else None,
                   "BIANMIN_SMTP_PASSWORD_SECRET", False),
                  (out.case_report_key_secret if out.case_report_url else None, "BIANMIN_CASE_REPORT_KEY_SECRET",
                   False)]
    for name, variable, optional in named:
        if name:
            found.setdefault(name, []).append(Reference(setting=variable, optional=optional))
    # Only diagrams with a service task are parsed (each once per process: the version cache keeps them).
    current = session.execute(
        select(ServiceItem.code, ServiceItem.name, ProcedureVersion.id, ProcedureVersion.version)
        .join(ProcedureVersion, ProcedureVersion.id == ServiceItem.current_version_id)
        .where(ProcedureVersion.bpmn_xml.contains("serviceTaskOperator")).order_by(ServiceItem.code))
    for row in current:
        loaded = versions.get(session, row.id)
        elements = [*loaded.spec.task_specs.values(),
                    *(spec for sub in loaded.subprocess_specs.values() for spec in sub.task_specs.values())]
        for spec, name in calls.named_secrets(elements):
            found.setdefault(name, []).append(Reference(item_code=row.code, item_name=row.name,
                                                        version=row.version, step=spec.bpmn_name or spec.bpmn_id))
    return found


def key_problem(settings: Settings) -> str | None:
    """Why this process can store and read no secret (no key, or a malformed one), or None when it can."""
    try:
        _cipher(settings)
    except SecretsUnavailable as exc:
        return exc.message
    return None


class Reader:
    """The `connectors.base.Secrets` a connector call gets: decrypts one named secret when the call asks for it.

    Given a `Database`, each look-up is its own short read, so one reader serves the outbox worker's threads at
    once and holds no transaction open during a call; given a `Session`, it reads in that session (one thread).
    """

    def __init__(self, source: Session | Database, settings: Settings) -> None:
        self._source = source
        self._settings = settings

    def get(self, name: str) -> str:
        if isinstance(self._source, Database):
            with self._source.read() as session:
                ciphertext = _ciphertext(session, name)
        else:
            ciphertext = _ciphertext(self._source, name)
        if ciphertext is None:
            raise NotFound(f"机密“{name}”不存在：请系统管理员先录入该机密")
        # Checked after the look-up so an unknown name is reported as such even on a process without a key.
        cipher = _cipher(self._settings)
        try:
            return cipher.decrypt(ciphertext.encode("ascii")).decode()
        except InvalidToken:
            raise SecretsUnavailable(f"机密“{name}”无法解密：当前的 BIANMIN_SECRETS_KEY 不是保存它时所用的密钥。"
                                     "请换回原密钥（更换密钥时把新密钥放在最前、旧密钥放在其后，以逗号分隔），"
                                     "或由系统管理员重新录入该机密") from None

    def __repr__(self) -> str:
        return "<secrets.Reader>"


def _ciphertext(session: Session, name: str) -> str | None:
    return session.scalar(select(Secret.ciphertext).where(Secret.name == name))


def reader(source: Session | Database, settings: Settings) -> Reader:
    """Secrets by name for connector calls, read in `source` (a session, or the database for a short read per
    look-up); the key is checked only when one is asked for, so a call that needs none works on a process without
    BIANMIN_SECRETS_KEY."""
    return Reader(source, settings)
