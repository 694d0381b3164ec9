"""Settings read from the environment (BIANMIN_*), with defaults that work on a fresh checkout."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    procedures_dir: Path
    max_diagram_bytes: int = 2 * 1024 * 1024


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
    )
