"""Staff accounts: passwords, bearer tokens, and adding users to posts."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .. import clock
from ..errors import BianminError, NotFound
from ..models import ApiToken, OrgUnit, Role, User
from .jurisdiction import ACTOR_ROWS, Actor

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(stored: str, password: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not check_password(user.password_hash, password):
        return None
    return user


def add_user(
    session: Session, username: str, role_code: str, org_code: str, *, display_name: str | None = None,
    password: str, post_rank: str = "A",
) -> User:
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise BianminError(f"用户名“{username}”已存在")
    role = session.get(Role, role_code)
    if role is None:
        raise NotFound(f"角色“{role_code}”不存在")
    org = session.scalar(select(OrgUnit).where(OrgUnit.code == org_code))
    if org is None:
        raise NotFound(f"行政区划代码“{org_code}”不存在")
    if role.level in ("village", "town", "county") and org.level != role.level:
        raise BianminError(f"角色“{role.name}”属于{_LEVEL_NAMES[role.level]}级，不能设在{org.name}")
    if post_rank not in ("A", "B"):
        raise BianminError("岗位只能是 A 岗或 B 岗")
    user = User(
        username=username, display_name=display_name or f"{org.name}{role.name}（{post_rank}岗）",
        password_hash=hash_password(password), role_code=role.code, org_id=org.id, post_rank=post_rank,
    )
    session.add(user)
    session.flush()
    return user


def create_token(session: Session, username: str) -> str:
    """A new bearer token for the user; only its hash is kept, so it is shown once."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户“{username}”不存在")
    token = "bm_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), created_at=clock.now()))
    return token


_TOKEN_ACTOR = ACTOR_ROWS.join(ApiToken.__table__, ApiToken.user_id == User.id).where(
    ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked.is_(False), User.active.is_(True))


def actor_for_token(session: Session, token: str) -> Actor | None:
    """The active staff member a live token belongs to, in one indexed query built once."""
    row = session.connection().execute(_TOKEN_ACTOR, {"token_hash": token_hash(token)}).first()
    return Actor.from_row(row) if row else None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_LEVEL_NAMES = {"village": "村", "town": "乡镇", "county": "县"}


def set_away(session: Session, username: str, away: bool) -> User:
    """A/B posts: while A is away, B sees and works A's tasks."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户“{username}”不存在")
    user.away = away
    return user
