"""Tables of the task operations that leave no task behind: 抄送 (a case copied to a post) and 催办 (a chase)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class CaseCopy(Base):
    """抄送: a post told of a case at a step, without a task; its holders read the case in "抄送我的"."""

    __tablename__ = "case_copy"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    step: Mapped[str] = mapped_column(String(200))
    role_code: Mapped[str] = mapped_column(ForeignKey("role.code"))
    org_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    # Empty when the diagram's step copies by itself (its `copyTo` property).
    copied_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    copied_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")
    read_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_case_copy_post", "role_code", "org_id", "copied_at"),)


class Chase(Base):
    """催办: someone chased the handler of an open task; counted per post on the supervision desk."""

    __tablename__ = "chase"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    step: Mapped[str] = mapped_column(String(200))
    role_code: Mapped[str] = mapped_column(ForeignKey("role.code"))
    org_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    # The one holding the task when chased; empty when it sat unclaimed with its post.
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    chased_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    chased_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_chase_post", "role_code", "org_id", "chased_at"), Index("ix_chase_at", "chased_at"))
