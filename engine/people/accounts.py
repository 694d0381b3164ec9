"""Staff accounts: passwords, sessions' versions, bearer tokens, and adding users to posts."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..db import Database
from ..errors import BianminError, NotFound, Unauthorized, ValidationFailed
from ..models import ApiToken, OrgUnit, Role, User
from .jurisdiction import ACTOR_ROWS, Actor

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
MAX_USERNAME_LENGTH = 50
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3650
# A token's last use is written at most this often, so API reads do not each become a write.
TOKEN_USE_RESOLUTION = timedelta(minutes=5)
WRONG_OLD_PASSWORD = "原密码不正确"


def _derive(password: str, salt: bytes) -> bytes:
    """The one slow step of every password check; the same cost whether or not the account exists."""
    return hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, **_SCRYPT)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"scrypt${salt.hex()}${_derive(password, salt).hex()}"


def check_password(stored: str, password: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    return hmac.compare_digest(_derive(password, bytes.fromhex(salt)).hex(), digest)


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(16))


def valid_username(username: str) -> bool:
    return 0 < len(username) <= MAX_USERNAME_LENGTH and all(ch.isprintable() and not ch.isspace() for ch in username)


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active account with this password; an unknown name costs the same hash as a wrong password."""
    user = session.scalar(select(User).where(User.username == username)) if valid_username(username) else None
    if user is None:
        check_password(_dummy_hash(), password)
        return None
    if not check_password(user.password_hash, password) or not user.active:
        return None
    return user


def password_problems(username: str, password: str, old_password: str | None = None) -> list[str]:
    """What is wrong with a new password, each as a sentence for the person choosing it."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"新密码至少需要 {MIN_PASSWORD_LENGTH} 个字符")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"新密码不能超过 {MAX_PASSWORD_LENGTH} 个字符")
    if password.casefold() == username.casefold():
        problems.append("新密码不能与用户名相同")
    if old_password is not None and password == old_password:
        problems.append("新密码不能与原密码相同")
    return problems


def _checked_password(username: str, password: str, old_password: str | None = None) -> str:
    problems = password_problems(username, password, old_password)
    if problems:
        raise ValidationFailed("新密码不符合要求：" + "；".join(problems), details=problems,
                               fields={"new_password": problems})
    return password


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户“{username}”不存在")
    return user


def end_sessions(user: User) -> None:
    """Every web session signed before this call stops working at its next request."""
    user.session_version += 1


def sign_out(session: Session, user_id: int) -> None:
    """Logging out ends the account's sessions in every browser, not only the one that asked."""
    user = session.get(User, user_id)
    if user is not None:
        end_sessions(user)


def set_password(session: Session, username: str, password: str) -> User:
    """An administrator's reset: no old password asked; every session of the account ends."""
    user = _user(session, username)
    user.password_hash = hash_password(_checked_password(username, password))
    end_sessions(user)
    return user


def change_password(session: Session, user_id: int, old_password: str, new_password: str) -> User:
    """The user's own change: the old password proves it is them; their other sessions end."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("用户不存在或已停用")
    if not check_password(user.password_hash, old_password):
        raise ValidationFailed(WRONG_OLD_PASSWORD, fields={"old_password": [WRONG_OLD_PASSWORD]})
    user.password_hash = hash_password(_checked_password(user.username, new_password, old_password))
    end_sessions(user)
    return user


def set_active(session: Session, username: str, active: bool) -> User:
    """Deactivating ends the account's web sessions (and its tokens stop working while it is inactive)."""
    user = _user(session, username)
    if user.active and not active:
        end_sessions(user)
    user.active = active
    return user


def generated_password() -> str:
    return secrets.token_urlsafe(12)


def add_user(
    session: Session, username: str, role_code: str, org_code: str, *, display_name: str | None = None,
    password: str, post_rank: str = "A",
) -> User:
    if not valid_username(username):
        raise BianminError(f"用户名须为 1–{MAX_USERNAME_LENGTH} 个字符，不含空格或控制字符")
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
        password_hash=hash_password(_checked_password(username, password)), role_code=role.code, org_id=org.id,
        post_rank=post_rank,
    )
    session.add(user)
    session.flush()
    return user


def create_token(session: Session, username: str, days: int = DEFAULT_TOKEN_DAYS) -> str:
    """A new bearer token for the user, valid for `days`; only its hash is kept, so it is shown once."""
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise BianminError(f"令牌有效期应为 1–{MAX_TOKEN_DAYS} 天")
    user = _user(session, username)
    token = "bm_" + secrets.token_urlsafe(32)
    now = clock.now()
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), created_at=now,
                         expires_at=now + timedelta(days=days)))
    return token


def tokens(session: Session, username: str | None = None) -> list[ApiToken]:
    """Tokens as an administrator reviews them, newest first (their secrets are not stored)."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if username is not None:
        query = query.where(ApiToken.user_id == _user(session, username).id)
    return list(session.scalars(query))


def revoke_token(session: Session, token_id: int) -> ApiToken:
    found = session.get(ApiToken, token_id)
    if found is None:
        raise NotFound(f"令牌 {token_id} 不存在")
    found.revoked = True
    return found


_TOKEN_ACTOR = ACTOR_ROWS.add_columns(
    ApiToken.id.label("token_id"), ApiToken.expires_at, ApiToken.last_used_at, ApiToken.revoked,
).join(ApiToken.__table__, ApiToken.user_id == User.id).where(ApiToken.token_hash == bindparam("token_hash"))


def actor_for_token(db: Database, token: str) -> Actor:
    """The active staff member a live token belongs to (one indexed query); why not, in words, when it is not."""
    with db.read() as session:
        row = session.execute(_TOKEN_ACTOR, {"token_hash": token_hash(token)}).first()
    if row is None:
        raise Unauthorized("访问令牌无效")
    now = clock.now()
    if row.revoked:
        raise Unauthorized("访问令牌已被撤销，请向管理员申请新令牌")
    if row.expires_at <= now:
        raise Unauthorized(f"访问令牌已于 {row.expires_at.astimezone(clock.SHANGHAI):%Y-%m-%d %H:%M} 过期，"
                           "请向管理员申请新令牌")
    if not row.active:
        raise Unauthorized("令牌所属账号已停用")
    if row.last_used_at is None or row.last_used_at < now - TOKEN_USE_RESOLUTION:
        _note_use(db, row.token_id, now)
    return Actor.from_row(row)


def _note_use(db: Database, token_id: int, now: datetime) -> None:
    with db.write() as session:
        session.execute(update(ApiToken).where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - TOKEN_USE_RESOLUTION),
        ).values(last_used_at=now))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


_LEVEL_NAMES = {"village": "村", "town": "乡镇", "county": "县"}


def set_away(session: Session, username: str, away: bool) -> User:
    """A/B posts: while A is away, B sees and works A's tasks."""
    user = _user(session, username)
    user.away = away
    return user
