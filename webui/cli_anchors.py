"""`bianmin audit anchor` and `bianmin audit check-anchor`: write a day's anchor, check a kept one."""

from __future__ import annotations

import re
import sys
from datetime import date
from pathlib import Path

import click

from engine import democlock
from engine.audit import anchors
from engine.errors import BianminError
from engine.services import Services, open_services


def _services() -> Services:
    svc = open_services()
    democlock.refresh(svc.db)
    return svc


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"“{value}”不是有效日期（应为 YYYY-MM-DD）") from None


@click.command("anchor")
@click.option("--date", "day_text", help="The day (YYYY-MM-DD, Beijing time); yesterday when not given.")
def anchor(day_text: str | None) -> None:
    """Write a day's anchor (the digest of every chain at the day's end) to its file, once."""
    svc = _services()
    day = _day(day_text) or anchors.yesterday()
    try:
        written = anchors.write(svc.db, svc.settings.anchors_dir, day)
    except BianminError as exc:
        click.echo(f"错误：{exc.message}", err=True)
        sys.exit(2)
    with svc.db.read() as session:
        row = anchors.stored_for(session, day)
    assert row is not None
    counts = row.counts
    click.echo(f"{'已生成' if written else '已存在'} {day.isoformat()} 的锚点：摘要 {row.digest}")
    click.echo(f"办件 {counts['cases']} 个（记录 {counts['case_events']} 条），系统记录 {counts['system_events']} 条；"
               f"文件 {row.path}")
    click.echo("请把摘要或文件另存到本系统之外（打印、交给审计部门、存入另一台机器）")


@click.command("check-anchor")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--digest", help="A kept digest (64 hex digits), with --date.")
@click.option("--date", "day_text", help="The day the digest is for (YYYY-MM-DD).")
def check_anchor(file: Path | None, digest: str | None, day_text: str | None) -> None:
    """Recompute a kept anchor from the database: 一致, or each chain that differs (exit 1)."""
    day = _day(day_text)
    if (file is None) == (digest is None) or (digest is not None and day is None):
        click.echo("用法：bianmin audit check-anchor 锚点文件，或 bianmin audit check-anchor --digest 摘要 --date 日期",
                   err=True)
        sys.exit(2)
    if digest is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
        click.echo("错误：摘要应为 64 位十六进制数", err=True)
        sys.exit(2)
    svc = _services()
    try:
        with svc.db.read() as session:
            if file is not None:
                checked = anchors.check_document(session, anchors.read_file(file))
            else:
                assert digest is not None and day is not None
                checked = anchors.check_digest(session, day, digest)
    except BianminError as exc:
        click.echo(f"错误：{exc.message}", err=True)
        sys.exit(2)
    if checked.consistent:
        click.echo(f"一致：{checked.day.isoformat()} 的锚点与数据库相符（摘要 {checked.digest}）")
        sys.exit(0)
    click.echo(f"不一致：{checked.day.isoformat()} 的锚点与数据库有 {len(checked.differences)} 处不符：")
    for line in checked.differences:
        click.echo(f"  - {line}")
    sys.exit(1)
