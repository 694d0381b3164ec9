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
from ..audit import system
from ..audit.chain import Acting
from ..db import Database
from ..errors import BianminError, Conflict, NotFound, Unauthorized, ValidationFailed
from ..models import ApiToken, OrgUnit, Role, Task, User
from ..vocabulary import SystemEventKind, TaskStatus
from . import access
from .jurisdiction import ACTOR_ROWS, Actor
from .places import LEVELS

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


def set_password(session: Session, username: str, password: str, *, by: Acting | None = None) -> User:
    """An administrator's reset: no old password asked; every session of the account ends."""
    user = _user(session, username)
    user.password_hash = hash_password(_checked_password(username, password))
    end_sessions(user)
    system.append(session, SystemEventKind.PASSWORD_RESET, by, clock.now(), username)
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


def set_active(session: Session, username: str, active: bool, *, by: Acting | None = None) -> User:
    """Deactivating ends the account's web sessions (and its tokens stop working while it is inactive)."""
    user = _user(session, username)
    if user.active == active:
        raise Conflict(f"账号“{username}”已{'是启用状态' if active else '停用'}")
    if not active:
        end_sessions(user)
    user.active = active
    kind = SystemEventKind.USER_REACTIVATED if active else SystemEventKind.USER_DEACTIVATED
    system.append(session, kind, by, clock.now(), username, before={"active": not active}, after={"active": active})
    return user


def generated_password() -> str:
    return secrets.token_urlsafe(12)


def add_user(
    session: Session, username: str, role_code: str, org_code: str, *, display_name: str | None = None,
    password: str, post_rank: str = "A", by: Acting | None = None,
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
        raise BianminError(f"角色“{role.name}”属于{LEVELS[role.level]}级，不能设在{org.name}")
    if post_rank not in ("A", "B"):
        raise BianminError("岗位只能是 A 岗或 B 岗")
    display_name = (display_name or "").strip() or f"{org.name}{role.name}（{post_rank}岗）"
    if len(display_name) > 100:
        raise BianminError("姓名不能超过 100 个字符")
    user = User(
        username=username, display_name=display_name,
        password_hash=hash_password(_checked_password(username, password)), role_code=role.code, org_id=org.id,
        post_rank=post_rank,
    )
    session.add(user)
    session.flush()
    system.append(session, SystemEventKind.USER_ADDED, by, clock.now(), username,
                  after={"display_name": display_name, "role": role.code, "org": org.code, "rank": post_rank})
    return user


def create_token(session: Session, username: str, days: int = DEFAULT_TOKEN_DAYS, *, by: Acting | None = None) -> str:
    """A new bearer token for the user, valid for `days`; only its hash is kept, so it is shown once."""
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise BianminError(f"令牌有效期应为 1–{MAX_TOKEN_DAYS} 天")
    user = _user(session, username)
    token = "bm_" + secrets.token_urlsafe(32)
    now = clock.now()
    created = ApiToken(user_id=user.id, token_hash=token_hash(token), created_at=now,
                       expires_at=now + timedelta(days=days))
    session.add(created)
    session.flush()
    system.append(session, SystemEventKind.TOKEN_CREATED, by, now, username,
                  after={"token_id": created.id, "expires_at": created.expires_at.isoformat()})
    return token


def tokens(session: Session, username: str | None = None) -> list[ApiToken]:
    """Tokens as an administrator reviews them, newest first (their secrets are not stored)."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if username is not None:
        query = query.where(ApiToken.user_id == _user(session, username).id)
    return list(session.scalars(query))


def revoke_token(session: Session, token_id: int, *, by: Acting | None = None) -> ApiToken:
    found = session.get(ApiToken, token_id)
    if found is None:
        raise NotFound(f"令牌 {token_id} 不存在")
    if found.revoked:
        raise Conflict(f"令牌 {token_id} 已撤销")
    found.revoked = True
    system.append(session, SystemEventKind.TOKEN_REVOKED, by, clock.now(), found.user.username,
                  before={"token_id": token_id, "revoked": False}, after={"token_id": token_id, "revoked": True})
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


def other_holders(session: Session, user: User) -> list[User]:
    """The post's other active holders (its B holder for an A, and so on)."""
    return list(session.scalars(select(User).where(
        User.role_code == user.role_code, User.org_id == user.org_id, User.id != user.id, User.active.is_(True))))


def set_away(session: Session, username: str, away: bool, *, substitute: str | None = None,
             by: Acting | None = None) -> User:
    """A/B posts: while A is away, B sees and works A's tasks.

    A post with no other holder is handed to a substitute the administrator names: while the holder is away the
    substitute works the post's tasks (`access.holds_post`, the 代岗 inbox). Back at the post, what the substitute
    claimed there and did not finish returns to the post, unclaimed.
    """
    user = _user(session, username)
    if user.away == away:
        return user  # nothing changes, so nothing is recorded
    before = {"away": user.away, "substitute": user.substitute.username if user.substitute else None}
    if away:
        user.substitute = _substitute(session, user, substitute) if substitute or access.needs_substitute(
            len(other_holders(session, user))) else None
    else:
        if user.substitute_id is not None:
            session.execute(update(Task).where(
                Task.role_code == user.role_code, Task.org_id == user.org_id, Task.status == TaskStatus.OPEN,
                Task.assignee_id == user.substitute_id).values(assignee_id=None))
        user.substitute = None
    user.away = away
    session.flush()
    after = {"away": away, "substitute": user.substitute.username if user.substitute else None}
    kind = SystemEventKind.POST_AWAY if away else SystemEventKind.POST_BACK
    system.append(session, kind, by, clock.now(), username, before=before, after=after)
    return user


def _substitute(session: Session, user: User, username: str | None) -> User:
    if not username:
        message = f"{user.org.name}{user.role.name}岗位没有 B 岗人员，标记不在岗时须指定代岗人员"
        raise ValidationFailed(message, fields={"substitute": [message]})
    found = session.scalar(select(User).where(User.username == username))
    if found is None or not found.active:
        raise NotFound(f"代岗人员“{username}”不存在或已停用")
    if found.id == user.id:
        raise ValidationFailed("不能指定本人代岗", fields={"substitute": ["不能指定本人代岗"]})
    if found.away:
        raise ValidationFailed(f"{found.display_name}本人也不在岗，不能代岗",
                               fields={"substitute": [f"{found.display_name}本人也不在岗"]})
    return found
