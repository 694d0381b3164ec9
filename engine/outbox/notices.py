"""Staff notifications out by SMS and e-mail: each person's choice of channel per group, through the outbox,
under the daily cap; the in-app notification is always written, whatever goes out."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import ValidationFailed
from ..models import OutboxMessage, User
from . import outbound, queue
from .applicant import EMAIL, MOBILE, SMS, email_problem


@dataclass(frozen=True)
class Group:
    title: str
    kinds: frozenset[str]
    # Where it goes for someone who never chose: cards are what the deadline warnings are for, the rest stay in-app.
    default: tuple[str, ...] = ()


GROUPS = {
    "card": Group("黄牌预警、红牌警示", frozenset({"card"}), (SMS, EMAIL)),
    "chase": Group("催办", frozenset({"chase"})),
    "task": Group("转办、委派、抄送、延期和视为受理", frozenset({"transfer", "delegate", "case_copy", "extension",
                                                         "section32"})),
    "system": Group("故障告警、差评整改", frozenset({"incident", "follow_up"})),
}
GROUP_OF = {kind: code for code, group in GROUPS.items() for kind in group.kinds}
# The SMS a message of no template of its own goes as: its title, which says what and which case.
NOTICE_TEMPLATE = "staff_notice"
MAX_TITLE_CHARS = 100


@dataclass(frozen=True)
class Outgoing:
    """What a notification carries for SMS: a template of connectors/data/sms_templates.toml and its values."""

    template: str = NOTICE_TEMPLATE
    variables: Mapping[str, str] = field(default_factory=dict)


def channels(user: Any) -> dict[str, list[str]]:
    """The user's channels per group: their own choice, else each group's default."""
    chosen = user.notify_channels or {}
    return {code: list(chosen.get(code, group.default)) for code, group in GROUPS.items()}


def choose(session: Session, user_id: int, phone: str, email: str, chosen: Any) -> None:
    """Save a user's phone, e-mail and channels per group; ValidationFailed (each problem by field) changes nothing.

    A channel chosen without its address is refused rather than saved silent: the user would wait for messages
    that never come."""
    if not isinstance(chosen, Mapping) or not all(isinstance(v, list) for v in chosen.values()):
        raise ValidationFailed("channels 应为对象：每类提醒对应 [\"sms\", \"email\"] 中的若干项")
    unknown = set(chosen) - set(GROUPS)
    if unknown:
        raise ValidationFailed("没有这类提醒：" + "、".join(sorted(unknown)))
    phone, email = phone.strip().replace(" ", "").replace("-", ""), email.strip()
    fields: dict[str, list[str]] = {}
    if phone and not MOBILE.match(phone):
        fields["phone"] = ["手机号码应为 11 位数字，以 1 开头"]
    if email and (problem := email_problem(email)):
        fields["email"] = [problem]
    choice = {code: [channel for channel in (SMS, EMAIL) if channel in chosen.get(code, [])] for code in GROUPS}
    if any(SMS in channels for channels in choice.values()) and not phone:
        fields.setdefault("phone", []).append("选择了短信提醒，请填写手机号码")
    if any(EMAIL in channels for channels in choice.values()) and not email:
        fields.setdefault("email", []).append("选择了邮件提醒，请填写电子邮箱")
    if fields:
        problems = [text for texts in fields.values() for text in texts]
        raise ValidationFailed("提醒设置未保存：" + "；".join(problems), details=problems, fields=fields)
    session.execute(update(User).where(User.id == user_id).values(
        phone=phone or None, email=email or None, notify_channels=choice))


def sent_today(session: Session, user_id: int, now: datetime) -> int:
    """Messages queued for the user today, as the daily cap counts them."""
    return queue.count_today(session, f"user:{user_id}", now)


def recent(session: Session, user_id: int, limit: int) -> list[OutboxMessage]:
    """The user's latest messages out, newest first: what went, what waits, what failed and why."""
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == f"user:{user_id}")
                                .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)))


def send_out(session: Session, messages: Sequence[Any], now: datetime) -> None:
    """Queue each message's SMS and e-mails for the people who chose them; nothing without a gateway or server."""
    out = outbound.of(session)
    if out is None or (out.sms_gateway_url is None and out.mail is None):
        return
    ids = {user_id for message in messages for user_id in message.user_ids}
    people = {row.id: row for row in session.execute(
        select(User.id, User.phone, User.email, User.notify_channels, User.active).where(User.id.in_(ids)))}
    for message in messages:
        group = GROUP_OF.get(message.kind, "system")
        for user_id in sorted(message.user_ids):
            person = people.get(user_id)
            if person is None or not person.active:
                continue
            for channel in channels(person)[group]:
                call = _call(out, person, channel, message)
                if call is None:
                    continue
                recipient = f"user:{user_id}"
                if not queue.within_cap(session, recipient, out.daily_cap, now):
                    # They still have it in the app; the cap only spares their phone and mailbox.
                    break
                connector, params = call
                queue.write(session, None, None, message.title[:200], connector, params,
                            _key(channel, user_id, message.key), None, now, recipient=recipient)


def _key(channel: str, user_id: int, key: str) -> str:
    """Once per person, channel and subject; a long subject key is hashed to fit the outbox's column."""
    whole = f"{channel}:{user_id}:{key}"
    return whole if len(whole) <= 64 else f"{channel}:{user_id}:" + hashlib.sha256(key.encode()).hexdigest()[:40]


def _call(out: outbound.Outbound, person: Any, channel: str, message: Any) -> tuple[str, dict[str, Any]] | None:
    if channel == SMS and out.sms_gateway_url and MOBILE.match(person.phone or ""):
        sms = message.outgoing or Outgoing(variables={"title": message.title[:MAX_TITLE_CHARS]})
        return "sms/gateway", {"gateway_url": out.sms_gateway_url, "api_key_secret": out.sms_key_secret,
                               "template": sms.template, "phone": person.phone, "variables": dict(sms.variables)}
    if channel == EMAIL and out.mail is not None and person.email:
        return "smtp/mail", {**out.mail.params(), "to": [person.email], "subject": message.title[:200],
                             "body": message.body or message.title}
    return None
