"""Tables of the org tree, roles, user accounts, API tokens and sign-in attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base


class OrgUnit(Base):
    """A county, town or village, identified by its administrative division code."""

    __tablename__ = "org_unit"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])
    # Where its service window is and how to call it, as the public guide tells citizens.
    address: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))


class Role(Base):
    """A post type; `level` says at which org level its holders sit (village, town, county)."""

    __tablename__ = "role"
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))


class User(Base):
    """A staff member holding one post (role at an org unit) as its A or B holder."""

    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role_code: Mapped[str] = mapped_column(ForeignKey("role.code"))
    org_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    post_rank: Mapped[str] = mapped_column(String(1), default="A")
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # While away from a post without a B holder: the colleague an administrator named to work its tasks.
    substitute_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", name="fk_user_account_substitute"))
    # Signed into every web session; raising it (log-out, new password, deactivation) ends all earlier sessions.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Where notifications reach them outside the app, and which go there: {group: ["sms", "email"]}, the groups of
    # engine/outbox/notices.py; None means that module's defaults.
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(320))
    notify_channels: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    org: Mapped[OrgUnit] = relationship(lazy="joined")
    role: Mapped[Role] = relationship(lazy="joined")
    substitute: Mapped[User | None] = relationship(remote_side=[id], foreign_keys=[substitute_id])
    # The away holders who named this user their substitute; their posts are the ones this user covers.
    stood_in_for: Mapped[list[User]] = relationship(foreign_keys=[substitute_id], viewonly=True, lazy="selectin",
                                                  join_depth=1)

    __table_args__ = (Index("ix_user_post", "role_code", "org_id"),)

    @property
    def org_level(self) -> str:
        return self.org.level

    @property
    def covers(self) -> frozenset[tuple[str, int]]:
        return frozenset((held.role_code, held.org_id) for held in self.stood_in_for if held.away)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    user: Mapped[User] = relationship(lazy="joined")


class LoginAttempt(Base):
    """One try at the login page, kept for throttling and for the record; `username` is what was typed."""

    __tablename__ = "login_attempt"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    username: Mapped[str] = mapped_column(String(50))
    address: Mapped[str] = mapped_column(String(45))
    at: Mapped[datetime]
    success: Mapped[bool] = mapped_column(Boolean)
    # Refused before the password was checked (throttled or locked): kept, but not counted as a failure.
    throttled: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_login_attempt_username_at", "username", "at"),
                      Index("ix_login_attempt_address_at", "address", "at"))
