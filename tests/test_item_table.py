"""The README's table of shipped items says what each item.toml says: every folder under bpmn/ has its row, with its
promised and statutory working days."""

from __future__ import annotations

import re
import tomllib

from engine.config import ROOT

ROW = re.compile(r"^\| `(?P<code>[A-Z0-9-]+)` \| (?P<name>[^|]+) \| (?P<promised>[^|]+) \| (?P<statutory>[^|]+) \|")


def days(cell: str) -> int:
    """即办 is 0 working days; otherwise the cell starts with the number."""
    cell = cell.strip()
    return 0 if cell.startswith("即办") else int(cell.split()[0])


def test_the_readme_table_lists_every_item_with_its_days() -> None:
    rows = {m["code"]: m for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
            if (m := ROW.match(line))}
    items = [tomllib.loads(path.read_text(encoding="utf-8")) for path in sorted(ROOT.glob("bpmn/*/item.toml"))]
    assert {item["code"] for item in items} == set(rows)
    for item in items:
        row = rows[item["code"]]
        assert row["name"].strip() == item["name"]
        assert (days(row["promised"]), days(row["statutory"])) == (item["promised_days"], item["statutory_days"])
