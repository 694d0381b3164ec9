"""Signing in at the login page: throttling per account and per address, and every attempt recorded."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..audit import system
from ..db import Database
from ..errors import Unauthorized
from ..models import LoginAttempt, User
from ..throttle import Rule, TooManyAttempts
from ..vocabulary import SystemEventKind
from . import access, accounts

MAX_ADDRESS_LENGTH = 45  # an IPv6 address written out in full


# One account: a person mistyping gets three tries at once, a guesser ten in a quarter of an hour.
ACCOUNT = Rule(free=3, lock_at=10, window=timedelta(hours=1), lockout=timedelta(minutes=15))
# One address: a town office behind one NAT address signs in many staff, so more failures pass before it waits.
ADDRESS = Rule(free=10, lock_at=30, window=timedelta(hours=1), lockout=timedelta(minutes=15))

FAILED = "用户名或密码错误，或账号已停用"


def sign_in(db: Database, username: str, password: str, address: str | None, *, via: str = "login") -> User:
    """The account signed in; raises TooManyAttempts while throttled, Unauthorized for a wrong name or password.

    The attempt is stored as a failure before the password is checked, so attempts sent in parallel count
    against each other; a correct password then marks it a success. Attempts at a supervisor's, auditor's or
    administrator's account go on the system chain too (`via` says which form made them), never the password.
    """
    typed = _recordable(username)
    where = (address or "unknown")[:MAX_ADDRESS_LENGTH]
    now = clock.now()
    with db.write() as session:
        refusal = _refusal(session, typed, where, now)
        attempt = LoginAttempt(username=typed, address=where, at=now, success=False, throttled=refusal is not None)
        session.add(attempt)
        if refusal is not None:
            _on_record(session, typed, where, now, via, failure="throttled")
    if refusal is not None:
        raise refusal
    with db.read() as session:
        user = accounts.authenticate(session, username, password)
    if user is None:
        with db.write() as session:
            _on_record(session, typed, where, now, via, failure="wrong_password")
        raise Unauthorized(FAILED)
    with db.write() as session:
        session.execute(update(LoginAttempt).where(LoginAttempt.id == attempt.id).values(success=True))
        _on_record(session, typed, where, now, via)
    return user


def _on_record(session: Session, username: str, address: str, now: datetime, via: str,
               failure: str | None = None) -> None:
    """Record an attempt at a privileged account on the system chain; other accounts' attempts are not."""
    account = session.scalar(select(User).where(User.username == username))
    if account is None or not access.signs_in_on_record(account):
        return
    if failure == "wrong_password" and not account.active:
        failure = "inactive"
    after = {"address": address, "role": account.role_code, "via": via}
    if failure is None:
        system.append(session, SystemEventKind.PRIVILEGED_LOGIN, account, now, account.username, after=after)
    else:
        # No actor: whoever typed the name is not known to be the account's holder.
        system.append(session, SystemEventKind.PRIVILEGED_LOGIN_FAILED, None, now, account.username,
                      after=after | {"reason": failure})


def _recordable(username: str) -> str:
    """What was typed, as the table can hold it on every database (no NUL, no lone surrogates)."""
    return "".join(ch for ch in username if ch.isprintable())[:accounts.MAX_USERNAME_LENGTH]


def _refusal(session: Session, username: str, address: str, now: datetime) -> TooManyAttempts | None:
    """The longest wait either rule imposes now, if any."""
    counted = (LoginAttempt.success.is_(False), LoginAttempt.throttled.is_(False))
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(LoginAttempt.username == username, LoginAttempt.success.is_(True)))
    since = max(now - ACCOUNT.window, last_success) if last_success else now - ACCOUNT.window
    account = session.execute(select(func.count(), func.max(LoginAttempt.at)).where(
        LoginAttempt.username == username, LoginAttempt.at > since, *counted)).one()
    by_address = session.execute(select(func.count(), func.max(LoginAttempt.at)).where(
        LoginAttempt.address == address, LoginAttempt.at > now - ADDRESS.window, *counted)).one()
    refusals = [rule.refusal(failures, last_failure, now,
                             locked=f"{whose}登录失败次数过多，已暂时锁定，请 {{minutes}} 分钟后再试",
                             waiting="登录失败次数较多，请 {seconds} 秒后再试")
                for rule, whose, (failures, last_failure) in ((ACCOUNT, "该账号", account),
                                                              (ADDRESS, "本机地址", by_address))]
    return max(filter(None, refusals), key=lambda refusal: refusal.retry_after, default=None)
