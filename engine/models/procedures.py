"""Tables of service items, deployed procedure versions and drafts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class ServiceItem(Base):
    """A procedure citizens can apply for; points at its current deployed version."""

    __tablename__ = "service_item"
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("procedure_version.id", use_alter=True, name="fk_item_current_version")
    )


class ProcedureVersion(Base):
    """One deployed, immutable version of a procedure folder: diagram, forms and service guide."""

    __tablename__ = "procedure_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_code: Mapped[str] = mapped_column(ForeignKey("service_item.code"))
    version: Mapped[int] = mapped_column(Integer)
    process_id: Mapped[str] = mapped_column(String(100))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict[str, Any]]
    guide: Mapped[dict[str, Any]]
    checksum: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str] = mapped_column(String(50))

    __table_args__ = (UniqueConstraint("item_code", "version"),)


class ProcedureDraft(Base):
    """A procedure being drawn or changed in the browser: its files as a procedure folder holds them.

    Checked on every save (the problems are kept for the page); published, it becomes a new ProcedureVersion.
    """

    __tablename__ = "procedure_draft"
    id: Mapped[int] = mapped_column(primary_key=True)
    # From item.toml once it names one; a new procedure may be saved before it has a code.
    item_code: Mapped[str | None] = mapped_column(String(50), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Path in the folder (process.bpmn, item.toml, forms/x.schema.json …) → text.
    files: Mapped[dict[str, Any]]
    based_on_version_id: Mapped[int | None] = mapped_column(ForeignKey("procedure_version.id"))
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime]
    # Set when published: the draft is then closed and kept as the record of what was published.
    published_version_id: Mapped[int | None] = mapped_column(ForeignKey("procedure_version.id"))
