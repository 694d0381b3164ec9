"""Where an act on a case comes from: the acting staff member's post and the client's address, kept with its event."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from typing import Any, Protocol, runtime_checkable

_address: ContextVar[str | None] = ContextVar("bianmin_client_address", default=None)


@runtime_checkable
class Posted(Protocol):
    """A staff member as far as their post goes (a `User` row or the engine's `Actor`)."""

    role_code: str
    org_id: int


def enter(address: str | None) -> Token[str | None]:
    """From here on, record `address` with every case event a staff member causes (the web UI, per request)."""
    return _address.set(address)


def leave(token: Token[str | None]) -> None:
    """Stop recording the address `enter` set."""
    _address.reset(token)


def of(actor: Any) -> dict[str, str | None]:
    """The `post` and `address` of an event by `actor`: none for the system, whose acts come from no client.

    The post is kept as codes (`role@org id`), read without a query on the path every step takes; the
    replay page names it.
    """
    if not isinstance(actor, Posted):
        return {"post": None, "address": None}
    return {"post": f"{actor.role_code}@{actor.org_id}", "address": _address.get()}


def post_of(text: str | None) -> tuple[str, int] | None:
    """A recorded post back as (role code, org unit id); None when the event recorded none."""
    role, _, org = (text or "").rpartition("@")
    return (role, int(org)) if role and org.isdigit() else None


def post_label(role: str | None, org_id: int | None, roles: Mapping[str, str], orgs: Mapping[int, str]) -> str:
    """A post as people read it (`清水镇 民政办`), from its role code and org unit id and their names."""
    return f"{orgs.get(org_id or 0, '')} {roles.get(role or '', role or '')}".strip()


def recorded_post_label(text: str | None, roles: Mapping[str, str], orgs: Mapping[int, str]) -> str | None:
    """The post an event recorded, named; None when it recorded none (the system, or rows older than posts)."""
    post = post_of(text)
    return post_label(post[0], post[1], roles, orgs) if post else None
