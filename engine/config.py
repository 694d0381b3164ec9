"""Settings: one object read from the environment (BIANMIN_*), with defaults that work on a fresh checkout."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Everything the app reads at run time; each field names the variable that sets it."""

    database_url: str  # BIANMIN_DATABASE_URL
    secret_key: str  # BIANMIN_SECRET_KEY
    procedures_dir: Path  # BIANMIN_PROCEDURES: the folders `load-demo` deploys
    node_modules: Path  # BIANMIN_NODE_MODULES: where `npm ci` put bpmn-js
    max_diagram_bytes: int = 2 * 1024 * 1024  # BIANMIN_MAX_DIAGRAM_KB
    max_upload_bytes: int = 12 * 1024 * 1024  # BIANMIN_MAX_UPLOAD_MB: any one request
    reference_ttl_seconds: int = 300  # BIANMIN_REFERENCE_TTL: how long roles and the calendar are cached
    scheduler_interval_seconds: int = 30  # BIANMIN_SCHEDULER_INTERVAL


def _int(name: str, default: int, unit: int = 1) -> int:
    raw = os.environ.get(name)
    return int(raw) * unit if raw else default


def load_settings() -> Settings:
    var = ROOT / "var"
    default_url = f"sqlite:///{var / 'bianmin.db'}"
    url = os.environ.get("BIANMIN_DATABASE_URL", default_url)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return Settings(
        database_url=url,
        secret_key=os.environ.get("BIANMIN_SECRET_KEY", "dev-only-change-me"),
        procedures_dir=Path(os.environ.get("BIANMIN_PROCEDURES", ROOT / "bpmn")),
        node_modules=Path(os.environ.get("BIANMIN_NODE_MODULES", ROOT / "node_modules")),
        max_diagram_bytes=_int("BIANMIN_MAX_DIAGRAM_KB", Settings.max_diagram_bytes, 1024),
        max_upload_bytes=_int("BIANMIN_MAX_UPLOAD_MB", Settings.max_upload_bytes, 1024 * 1024),
        reference_ttl_seconds=_int("BIANMIN_REFERENCE_TTL", Settings.reference_ttl_seconds),
        scheduler_interval_seconds=_int("BIANMIN_SCHEDULER_INTERVAL", Settings.scheduler_interval_seconds),
    )
