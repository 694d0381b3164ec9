"""Deploying procedures: a new immutable version per change, and which version is current."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import clock
from ..audit import system
from ..audit.chain import Acting
from ..errors import NotFound, Problem
from ..models import ProcedureVersion, Role, ServiceItem
from ..vocabulary import SystemEventKind
from .bundle import ProcedureBundle, read_folder


@dataclass(frozen=True)
class Deployed:
    """One folder deployed: which version is current now, and what the checks would have the modeler look at."""

    item_code: str
    version: int
    created: bool
    warnings: list[Problem]

    def __str__(self) -> str:
        return f"{self.item_code} v{self.version}{'（新版本）' if self.created else '（未变化）'}"


def deploy(session: Session, bundle: ProcedureBundle, deployed_by: str, actor: Acting | None = None, *,
           record: bool = True) -> Deployed:
    """Store a new version unless the current one is identical, and record the deployment on the system chain.

    `record=False` is for a publication (`drafts.publish`), which records itself once as procedure_published.
    """
    item = session.get(ServiceItem, bundle.code, with_for_update=True)
    if item is None:
        item = ServiceItem(code=bundle.code, name=bundle.guide["name"])
        session.add(item)
        session.flush()
    current = session.get(ProcedureVersion, item.current_version_id) if item.current_version_id else None
    if current is not None and current.checksum == bundle.checksum:
        return Deployed(current.item_code, current.version, False, bundle.warnings)
    number = session.scalar(
        select(func.coalesce(func.max(ProcedureVersion.version), 0)).where(
            ProcedureVersion.item_code == bundle.code
        )
    )
    version = ProcedureVersion(
        item_code=bundle.code, version=(number or 0) + 1, process_id=bundle.process_id,
        bpmn_xml=bundle.bpmn_xml, forms=bundle.forms, guide=bundle.guide, checksum=bundle.checksum,
        deployed_at=clock.now(), deployed_by=deployed_by,
    )
    session.add(version)
    session.flush()
    item.name = bundle.guide["name"]
    item.current_version_id = version.id
    if record:
        system.append(session, SystemEventKind.PROCEDURE_DEPLOYED, actor, version.deployed_at,
                      f"{version.item_code} v{version.version}",
                      before={"version": current.version} if current is not None else None,
                      after={"item_code": version.item_code, "version": version.version, "name": item.name,
                             "checksum": version.checksum, "deployed_by": deployed_by})
    return Deployed(version.item_code, version.version, True, bundle.warnings)


def known_roles(session: Session) -> set[str]:
    return set(session.scalars(select(Role.code)))


def current_version_id(session: Session, item_code: str) -> int:
    version_id = session.scalar(select(ServiceItem.current_version_id).where(ServiceItem.code == item_code))
    if version_id is None:
        raise NotFound(f"未找到事项编码为“{item_code}”的事项")
    return version_id


def current_version(session: Session, item_code: str) -> ProcedureVersion:
    version = session.get(ProcedureVersion, current_version_id(session, item_code))
    assert version is not None
    return version


def deploy_folders(session: Session, folders: list[Path], max_diagram_bytes: int,
                   deployed_by: str = "system", actor: Acting | None = None) -> list[Deployed]:
    """Read, check and deploy each folder; the caller's transaction stores all or nothing."""
    roles = known_roles(session)
    return [deploy(session, read_folder(folder, roles, max_diagram_bytes), deployed_by, actor)
            for folder in folders]
