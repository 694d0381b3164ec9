"""The `bianmin` command: database set-up, demo data, deployment, users, tokens, calendar, server and scheduler."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy import select

from engine import backup, clock, demo, democlock, restore, scheduler, secrets, setup
from engine.audit import chain, system
from engine.audit import export as exporting
from engine.config import write_secret_key
from engine.deadlines import calendar as holidays
from engine.deadlines import promised
from engine.errors import BianminError, Forbidden
from engine.models import Case, User
from engine.people import access, accounts, places
from engine.procedures.deploy import Deployed, deploy_folders
from engine.services import Services, open_services

from . import cli_anchors


def _fail(exc: BianminError) -> NoReturn:
    click.echo(f"错误：{exc.message}", err=True)
    for line in exc.details:
        click.echo(f"  - {line}", err=True)
    sys.exit(1)


def _report(deployed: list[Deployed]) -> None:
    for done in deployed:
        click.echo(f"已部署 {done}")
        for warning in done.warnings:
            click.echo(f"  提示：{warning.text}")


@click.group()
def main() -> None:
    """便民 Bianmin — procedures for village and township service centres."""


def services() -> Services:
    svc = open_services()
    democlock.refresh(svc.db)
    return svc


def _init(svc: Services) -> None:
    """Schema, reference data, and the instance's session key when none is configured."""
    setup.init(svc.db)
    written = write_secret_key(svc.settings)
    if written is not None:
        click.echo(f"已生成会话密钥：{written}（仅所有者可读；生产环境请改用环境变量 BIANMIN_SECRET_KEY）")


@main.command()
def init() -> None:
    """Create or upgrade the database schema, install roles and the holiday calendar, generate the session key."""
    svc = services()
    _init(svc)
    click.echo(f"数据库已就绪：{svc.db.engine.url.render_as_string(hide_password=True)}")


@main.command("load-demo")
def load_demo() -> None:
    """Set up as `init` does, then load the demo county, its users and the shipped procedures (idempotent)."""
    svc = services()
    _init(svc)
    try:
        with svc.db.write() as session:
            deployed = demo.load(session, svc.settings.procedures_dir, svc.settings.max_diagram_bytes)
    except BianminError as exc:
        _fail(exc)
    _report(deployed)
    click.echo(f"演示账号密码均为 {demo.DEMO_PASSWORD}")


@main.command()
@click.argument("folders", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
def deploy(folders: tuple[Path, ...]) -> None:
    """Validate and deploy procedure folders (Bianmin's or spiff-arena's layout); all are stored or none."""
    svc = services()
    try:
        with svc.db.write() as session:
            deployed = deploy_folders(session, list(folders), svc.settings.max_diagram_bytes, deployed_by="cli")
    except BianminError as exc:
        _fail(exc)
    _report(deployed)


@main.group()
def org() -> None:
    """The org tree."""


@org.command("list")
@click.option("--json", "as_json", is_flag=True)
def org_list(as_json: bool) -> None:
    """The org tree, each unit after its parent."""
    svc = services()
    with svc.db.read() as session:
        rows = [{"code": p.unit.code, "level": p.unit.level, "name": p.unit.name,
                 "parent": p.unit.parent.code if p.unit.parent else None, "depth": p.depth}
                for p in places.tree(session)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for row in rows:
            click.echo(f"{'  ' * row['depth']}{row['code']}\t{row['level']}\t{row['name']}")


@org.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--parent", "parent_code", required=True, help="The parent's division code (county or town).")
def org_add(code: str, name: str, parent_code: str) -> None:
    """Add a town under the county or a village under a town, with its 12-digit division code."""
    svc = services()
    try:
        with svc.db.write() as session:
            unit = places.add_org(session, code, name, parent_code)
            click.echo(f"已添加 {unit.code} {unit.name}")
    except BianminError as exc:
        _fail(exc)


@org.command("rename")
@click.argument("code")
@click.argument("name")
def org_rename(code: str, name: str) -> None:
    svc = services()
    try:
        with svc.db.write() as session:
            places.rename_org(session, code, name)
    except BianminError as exc:
        _fail(exc)
    click.echo(f"已将 {code} 更名为 {name}")


@main.group()
def role() -> None:
    """Roles (post types); a lane names a role's code."""


@role.command("list")
def role_list() -> None:
    with services().db.read() as session:
        for found in places.roles(session):
            click.echo(f"{found.code}\t{found.level}\t{found.name}")


@role.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--level", required=True, type=click.Choice(list(places.LEVELS)))
def role_add(code: str, name: str, level: str) -> None:
    svc = services()
    try:
        with svc.db.write() as session:
            places.add_role(session, code, name, level)
    except BianminError as exc:
        _fail(exc)
    click.echo(f"已添加角色 {code}（{name}）")


@role.command("rename")
@click.argument("code")
@click.argument("name")
def role_rename(code: str, name: str) -> None:
    svc = services()
    try:
        with svc.db.write() as session:
            places.rename_role(session, code, name)
    except BianminError as exc:
        _fail(exc)
    click.echo(f"已将角色 {code} 更名为 {name}")


@main.group()
def user() -> None:
    """Staff accounts."""


def _password(from_stdin: bool) -> tuple[str, bool]:
    """The password piped in on one line, or a generated one; whether it was generated (to be shown once)."""
    if not from_stdin:
        return accounts.generated_password(), True
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        _fail(BianminError("标准输入中没有密码：请用管道输入一行密码，例如 printf '%s\\n' \"$PASSWORD\" | bianmin …"))
    return line, False


@user.command("add")
@click.argument("username")
@click.option("--role", required=True)
@click.option("--org", "org_code", required=True)
@click.option("--name", "display_name")
@click.option("--rank", type=click.Choice(["A", "B"]), default="A")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of standard input.")
def user_add(username: str, role: str, org_code: str, display_name: str | None, rank: str,
             password_stdin: bool) -> None:
    """Add a staff member; without --password-stdin a password is generated and printed once."""
    password, generated = _password(password_stdin)
    svc = services()
    try:
        with svc.db.write() as session:
            created = accounts.add_user(session, username, role, org_code, display_name=display_name,
                                        password=password, post_rank=rank)
            click.echo(f"已创建用户 {created.username}（{created.display_name}）")
    except BianminError as exc:
        _fail(exc)
    if generated:
        click.echo(f"初始密码（只显示这一次，请转交本人并提醒登录后修改）：{password}")


@user.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of standard input.")
def user_passwd(username: str, password_stdin: bool) -> None:
    """Set a new password (generated and printed once without --password-stdin); the user's sessions end."""
    password, generated = _password(password_stdin)
    svc = services()
    try:
        with svc.db.write() as session:
            accounts.set_password(session, username, password)
    except BianminError as exc:
        _fail(exc)
    click.echo(f"已重设 {username} 的密码，其已登录的会话均已失效")
    if generated:
        click.echo(f"新密码（只显示这一次）：{password}")


@user.command("deactivate")
@click.argument("username")
@click.option("--undo", is_flag=True, help="Activate the account again.")
def user_deactivate(username: str, undo: bool) -> None:
    """Stop an account from logging in or using its tokens; its web sessions end at once."""
    svc = services()
    try:
        with svc.db.write() as session:
            accounts.set_active(session, username, undo)
    except BianminError as exc:
        _fail(exc)
    click.echo(f"已恢复账号 {username}" if undo else f"已停用账号 {username}，其会话和访问令牌均已失效")


@main.group()
def token() -> None:
    """API bearer tokens."""


@token.command("create")
@click.argument("username")
@click.option("--days", type=click.IntRange(1, accounts.MAX_TOKEN_DAYS), default=accounts.DEFAULT_TOKEN_DAYS,
              show_default=True, help="Days until the token expires.")
def token_create(username: str, days: int) -> None:
    """Print a new bearer token for USERNAME (shown only now; only its hash is stored)."""
    svc = services()
    try:
        with svc.db.write() as session:
            value = accounts.create_token(session, username, days)
    except BianminError as exc:
        _fail(exc)
    click.echo(value)


def _local(moment: datetime | None) -> str:
    return moment.astimezone(clock.SHANGHAI).strftime("%Y-%m-%d %H:%M") if moment else "-"


@token.command("list")
@click.argument("username", required=False)
def token_list(username: str | None) -> None:
    """Tokens (all, or USERNAME's): id, user, created, expires, last used, state — never the token itself."""
    svc = services()
    try:
        with svc.db.read() as session:
            rows = accounts.tokens(session, username)
            now = clock.now()
            lines = [(row.id, row.user.username, row.created_at, row.expires_at, row.last_used_at,
                      "已撤销" if row.revoked else "已过期" if row.expires_at <= now else "有效") for row in rows]
    except BianminError as exc:
        _fail(exc)
    click.echo("编号\t用户\t创建时间\t到期时间\t最近使用\t状态")
    for token_id, owner, created, expires, used, state in lines:
        click.echo(f"{token_id}\t{owner}\t{_local(created)}\t{_local(expires)}\t{_local(used)}\t{state}")


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token by the number `token list` shows; the API refuses it from the next request on."""
    svc = services()
    try:
        with svc.db.write() as session:
            revoked = accounts.revoke_token(session, token_id)
            owner = revoked.user.username
    except BianminError as exc:
        _fail(exc)
    click.echo(f"已撤销令牌 {token_id}（{owner}）")


@main.group()
def post() -> None:
    """A/B posts."""


@post.command("away")
@click.argument("username")
@click.option("--back", is_flag=True, help="Mark the user present again.")
@click.option("--substitute", help="Who works the post's tasks meanwhile (required when the post has no B holder).")
def post_away(username: str, back: bool, substitute: str | None) -> None:
    svc = services()
    try:
        with svc.db.write() as session:
            accounts.set_away(session, username, not back, substitute=substitute)
    except BianminError as exc:
        _fail(exc)
    covered_by = f"代岗人员 {substitute}" if substitute else "B 岗"
    click.echo(f"{username} 已{'恢复在岗' if back else f'标记为不在岗，其任务由{covered_by}办理'}")


@main.group()
def calendar() -> None:
    """Statutory holidays and make-up workdays (节假日安排), per year."""


@calendar.command("list")
def calendar_list() -> None:
    with services().db.read() as session:
        years = holidays.entered(session)
    for year in years:
        click.echo(f"{year.year}\t{year.source}\t放假 {year.holidays} 天，调休上班 {year.workdays} 天")


@calendar.command("load")
@click.argument("notice", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Rewrite years already entered (dates already promised stay).")
def calendar_load(notice: Path, replace: bool) -> None:
    """Enter years from a TOML file in the format of engine/data/holidays.toml, then recount provisional dates."""
    svc = services()
    try:
        entries = holidays.parse_notice(notice.read_text("utf-8"), notice.name)
        years, recounted = promised.enter_years(svc.cases, entries, replace=replace)
    except BianminError as exc:
        _fail(exc)
    except UnicodeDecodeError:
        _fail(BianminError(f"{notice.name}：文件应为 UTF-8 编码"))
    click.echo(f"已录入 {'、'.join(str(year) for year in years)} 年节假日安排；"
               f"运行中的服务在 {svc.settings.reference_ttl_seconds // 60} 分钟内按新日历计算期限")
    click.echo(f"按新日历重算预计期限的办件：{recounted} 件")


@main.group("clock")
def clock_group() -> None:
    """Time travel in a demo database (made by `load-demo`): the server, scheduler and CLI all see the moved clock."""


def _clock_line(ahead: str) -> str:
    return f"系统时钟：{clock.local_now():%Y-%m-%d %H:%M}（北京时间），比实际时间快 {ahead}"


@clock_group.command("advance")
@click.argument("span")
def clock_advance(span: str) -> None:
    """Move the clock ahead by SPAN: 8d (days), 2w (weeks), 36h (hours)."""
    svc = services()
    try:
        delta = democlock.parse_span(span)
        with svc.db.write() as session:
            ahead = democlock.advance(session, delta)
    except BianminError as exc:
        _fail(exc)
    click.echo(_clock_line(_span_text(ahead)))
    click.echo(f"运行中的服务在 {democlock.REFRESH_SECONDS} 秒内、定时任务在下一次检查时按新时间运行")


@clock_group.command("show")
def clock_show() -> None:
    svc = services()
    with svc.db.read() as session:
        ahead = democlock.offset(session)
    if ahead is None:
        click.echo(f"系统时钟：{clock.local_now():%Y-%m-%d %H:%M}（北京时间）；正式数据库，时钟不可调整")
    else:
        click.echo(_clock_line(_span_text(ahead)))


@clock_group.command("reset")
def clock_reset() -> None:
    svc = services()
    try:
        with svc.db.write() as session:
            democlock.reset(session)
    except BianminError as exc:
        _fail(exc)
    click.echo(_clock_line("0 小时"))


def _span_text(span: timedelta) -> str:
    days, seconds = span.days, span.seconds
    return f"{days} 天 {seconds // 3600} 小时" if days else f"{seconds // 3600} 小时"


def _rows(summary: backup.Summary) -> str:
    return "、".join(f"{name} {count}" for name, count in summary.rows.items() if count)


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path) -> None:
    """Write the database and the attachments folder to FILE (.tar.gz), as of one moment, while the service runs."""
    svc = services()
    try:
        summary = backup.backup(svc.db, file, svc.settings.attachments_dir)
    except BianminError as exc:
        _fail(exc)
    click.echo(f"已备份到 {file}（{summary.database}，数据库结构 {summary.revision}）："
               f"办件 {summary.cases} 件，附件 {summary.attachments} 个")
    click.echo(f"各表行数：{_rows(summary)}")


@main.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data (it is all lost).")
def restore_command(file: Path, force: bool) -> None:
    """Restore a backup FILE into an empty database, then verify every case's history chain."""
    svc = services()
    try:
        summary = restore.restore(svc.db, file, svc.settings.attachments_dir, force=force)
    except BianminError as exc:
        _fail(exc)
    click.echo(f"已从 {file} 恢复（来自 {summary.database}，数据库结构 {summary.revision}"
               + (f"，已升级到 {summary.upgraded_to}" if summary.upgraded_to else "")
               + f"）：办件 {summary.cases} 件，附件 {summary.attachments} 个")
    click.echo(f"各表行数：{_rows(summary)}")
    if summary.broken:
        click.echo(f"错误：{len(summary.broken)} 个办件的历史记录链校验不通过：", err=True)
        for number, findings in summary.broken.items():
            click.echo(f"  - {number}：{'；'.join(findings)}", err=True)
        sys.exit(1)
    click.echo(f"历史记录链校验：{summary.cases} 个办件全部完好")


@main.group()
def audit() -> None:
    """The hash-chained histories: verify them, write and check the daily anchors."""


audit.add_command(cli_anchors.anchor)
audit.add_command(cli_anchors.check_anchor)


@audit.command("verify")
@click.option("--case", "case_number", help="Only this case (its number); otherwise every case and the system chain.")
def audit_verify(case_number: str | None) -> None:
    """Re-hash the histories and name each event that was altered, deleted, inserted or moved; exit 1 if any."""
    svc = services()
    checked = broken = 0
    with svc.db.read() as session:
        if case_number is not None:
            case_id = session.scalar(select(Case.id).where(Case.case_number == case_number))
            if case_id is None:
                click.echo(f"错误：没有编号为 {case_number} 的办件", err=True)
                sys.exit(2)
            cases = iter([chain.Checked(case_id, case_number, chain.verify(session, case_id))])
        else:
            cases = chain.verify_all(session)
        for one in cases:
            checked, broken = checked + 1, broken + bool(one.findings)
            if one.findings:
                click.echo(f"办件 {one.case_number} 的记录有断裂：")
            for finding in one.findings:
                click.echo(f"  第 {finding.seq} 条 [{finding.kind}] {finding.message}")
        system_findings = [] if case_number is not None else system.verify(session)
    for finding in system_findings:
        click.echo(f"系统记录 第 {finding.seq} 条 [{finding.kind}] {finding.message}")
    click.echo(f"已核验 {checked} 个办件：{checked - broken} 个完好，{broken} 个有断裂"
               + ("" if case_number is not None else
                  f"；系统记录{'完好' if not system_findings else f'有 {len(system_findings)} 处断裂'}"))
    sys.exit(1 if broken or system_findings else 0)


@audit.command("export")
@click.argument("case_number", required=False)
@click.option("--system", "whole_system", is_flag=True, help="Export the system chain instead of a case.")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write (default: <case number>-history.json or system-history.json, here).")
def audit_export(case_number: str | None, whole_system: bool, output: Path | None) -> None:
    """Write a case's whole history (or with --system the system chain) with its hashes as JSON, to verify offline
    with engine/audit/links.py."""
    if whole_system == (case_number is not None):
        click.echo("错误：请给出一个办件编号，或用 --system 导出系统记录（二者选一）", err=True)
        sys.exit(2)
    svc = services()
    by = exporting.exporter("命令行", "bianmin audit export")
    if case_number is None:
        with svc.db.read() as session:
            document = exporting.system_document(session, by)
        _write_export(document, output or Path(exporting.SYSTEM_FILENAME), "系统记录")
        return
    with svc.db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.case_number == case_number))
        if case_id is None:
            click.echo(f"错误：没有编号为 {case_number} 的办件", err=True)
            sys.exit(2)
        document = exporting.document(session, case_id, by)
    _write_export(document, output or Path(exporting.filename(case_number)), f"办件 {case_number} ")


def _write_export(document: dict[str, Any], target: Path, what: str) -> None:
    try:
        target.write_text(exporting.dumps(document), encoding="utf-8")
    except OSError as exc:
        click.echo(f"错误：无法写入 {target}：{exc.strerror or exc}", err=True)
        sys.exit(2)
    click.echo(f"已导出{what}的 {len(document['events'])} 条记录到 {target}；"
               f"离线核验：{exporting.verify_command(target.name)}")


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--no-scheduler", is_flag=True, help="Run timers in a separate `bianmin scheduler` process.")
def serve(host: str, port: int, no_scheduler: bool) -> None:
    """Serve the web UI and API (with the scheduler in-process unless --no-scheduler)."""
    from waitress import serve as waitress_serve

    from webui import create_app

    try:
        app = create_app()
    except BianminError as exc:
        _fail(exc)
    if not no_scheduler:
        svc = app.extensions["bianmin"]
        scheduler.build(svc.cases, blocking=False, interval=svc.settings.scheduler_interval_seconds,
                        anchors_dir=svc.settings.anchors_dir, outbox=_outbox(svc)).start()
    click.echo(f"便民 Bianmin 正在运行：http://{host}:{port}/")
    waitress_serve(app, host=host, port=port, threads=8)


@main.command("scheduler")
@click.option("--interval", type=int, help="Seconds between checks (default: BIANMIN_SCHEDULER_INTERVAL or 30).")
def run_scheduler(interval: int | None) -> None:
    """Run the timer scheduler in the foreground (several may run against one PostgreSQL)."""
    svc = services()
    interval = interval or svc.settings.scheduler_interval_seconds
    click.echo(f"定时任务已启动，每 {interval} 秒检查一次到期的定时器、昨日的锚点和待发送的外部调用")
    scheduler.build(svc.cases, blocking=True, interval=interval, anchors_dir=svc.settings.anchors_dir,
                    outbox=_outbox(svc)).start()


@main.command("worker")
@click.option("--interval", type=int, help="Seconds between checks (default: BIANMIN_SCHEDULER_INTERVAL or 30).")
def run_worker(interval: int | None) -> None:
    """Send the outbox's connector calls only (several may run against one PostgreSQL; each call is claimed)."""
    svc = services()
    interval = interval or svc.settings.scheduler_interval_seconds
    click.echo(f"外部调用发送进程已启动，每 {interval} 秒发送一次到期的调用")
    scheduler.build(svc.cases, blocking=True, interval=interval, outbox=_outbox(svc), timers=False).start()


def _outbox(svc: Services) -> tuple[secrets.Reader, float]:
    return secrets.reader(svc.db, svc.settings), float(svc.settings.connector_timeout_seconds)


@main.command("secret")
@click.argument("name")
@click.option("--by", "username", default="admin", show_default=True, help="The administrator recorded as setting it.")
def set_secret(name: str, username: str) -> None:
    """Store (or replace) a connector secret, typed without echo; it is never shown again."""
    svc = services()
    value = click.prompt(f"机密“{name}”的值（输入时不显示）", hide_input=True, confirmation_prompt=True)
    try:
        with svc.db.write() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None or not access.may_manage_secrets(user):
                raise Forbidden(f"账号 {username} 不是系统管理员，不能录入机密")
            secrets.store(session, name, value, user.id, clock.now(), settings=svc.settings)
    except BianminError as exc:
        _fail(exc)
    click.echo(f"已保存机密“{name}”（已加密；之后不会再显示）")
