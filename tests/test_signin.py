"""Sign-in cannot be forged, guessed or replayed: session key and versions, throttling, passwords, tokens, headers."""

from __future__ import annotations

import itertools
import os
import re
import stat
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine import clock
from engine.config import SECRET_KEY_FILE, NotConfigured, load_settings
from engine.errors import Unauthorized, ValidationFailed
from engine.models import LoginAttempt, Task, User
from engine.people import accounts, signin
from engine.services import Services, open_services
from tests.conftest import make_services, user_id
from tests.test_webui import DONGPO, PASSWORD, post, start, text
from webui import create_app
from webui.cli import main

ADDRESSES = (f"192.0.2.{n}" for n in itertools.count(1))  # documentation addresses: only ever strings here
NEW_PASSWORD = "qingshan-2026-new"
_names = itertools.count(1)


def new_user(svc: Services, password: str = PASSWORD) -> str:
    """An account of its own, so one test's failed logins never lock another test's user."""
    username = f"signin_{os.getpid()}_{next(_names)}"
    with svc.db.write() as session:
        accounts.add_user(session, username, "village_agent", DONGPO, password=password)
    return username


def attempts(svc: Services, **where: Any) -> list[LoginAttempt]:
    with svc.db.read() as session:
        query = select(LoginAttempt).order_by(LoginAttempt.id)
        for column, value in where.items():
            query = query.where(getattr(LoginAttempt, column) == value)
        return list(session.scalars(query))


def fail_login(svc: Services, username: str, address: str) -> None:
    with pytest.raises(Unauthorized):
        signin.sign_in(svc.db, username, "not-the-password", address)


def wait_out(refusal: signin.TooManyAttempts) -> None:
    clock.travel(timedelta(seconds=refusal.retry_after))


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The demo county in a database of this module's own: passwords changed here stay here."""
    svc = make_services("sqlite", tmp_path_factory.mktemp("signin"), "bianmin_signin")
    yield svc
    svc.db.dispose()


@pytest.fixture(scope="module")
def app(own: Services) -> Flask:
    return create_app(services=own, config={"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def web_login(client: FlaskClient, username: str, password: str = PASSWORD, address: str = "127.0.0.1") -> Any:
    return post(client, "/login", {"username": username, "password": password},
                environ_base={"REMOTE_ADDR": address})


def logged_in(client: FlaskClient) -> bool:
    response = client.get("/inbox")
    return response.status_code == 200


# -- the session key ---------------------------------------------------------------------------------


def test_a_cookie_signed_with_the_old_fixed_key_is_refused(app: Flask, own: Services) -> None:
    """The key the code used to fall back on is public: a session signed with it must not log anyone in."""
    forger = Flask("forger")
    forger.secret_key = "dev-only-change-me"
    admin = user_id(own, "admin")
    forged = app.session_interface.get_signing_serializer(forger).dumps(  # type: ignore[attr-defined]
        {"user_id": admin, "session_version": 1})
    client = app.test_client()
    client.set_cookie("session", forged)
    response = client.get("/inbox")
    assert response.status_code == 302 and "/login" in response.location
    assert app.secret_key != "dev-only-change-me" and len(str(app.secret_key)) >= 32


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh instance folder and database, with no key in the environment."""
    folder = tmp_path / "var"
    monkeypatch.delenv("BIANMIN_SECRET_KEY", raising=False)
    monkeypatch.delenv("BIANMIN_ENV", raising=False)
    monkeypatch.setenv("BIANMIN_INSTANCE", str(folder))
    monkeypatch.setenv("BIANMIN_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    return folder


def test_init_writes_an_owner_only_random_key_that_the_app_uses(instance: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    key_file = instance / SECRET_KEY_FILE
    assert "已生成会话密钥" in result.output and str(key_file) in result.output
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text("ascii").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key)

    again = runner.invoke(main, ["init"])
    assert again.exit_code == 0 and "已生成会话密钥" not in again.output
    assert key_file.read_text("ascii").strip() == key  # a second init keeps the key: sessions survive it
    svc = open_services()
    assert create_app(svc).secret_key == key
    svc.db.dispose()

    other = tmp_path / "other"
    os.environ["BIANMIN_INSTANCE"] = str(other)
    assert runner.invoke(main, ["init"]).exit_code == 0
    assert (other / SECRET_KEY_FILE).read_text("ascii").strip() != key


def test_without_a_key_the_app_refuses_to_start(instance: Path) -> None:
    svc = open_services()
    with pytest.raises(NotConfigured, match="未配置会话密钥：请设置环境变量 BIANMIN_SECRET_KEY，或先运行 bianmin init"):
        create_app(svc)
    svc.db.dispose()
    served = CliRunner().invoke(main, ["serve", "--no-scheduler"])
    assert served.exit_code == 1 and "未配置会话密钥" in served.output and "正在运行" not in served.output


def test_production_takes_the_key_from_the_environment_only(instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert CliRunner().invoke(main, ["init"]).exit_code == 0  # a key file exists, as on a machine once set up
    monkeypatch.setenv("BIANMIN_ENV", "production")
    svc = open_services()
    with pytest.raises(NotConfigured, match=r"生产环境（BIANMIN_ENV=production）必须用环境变量 BIANMIN_SECRET_KEY"):
        create_app(svc)
    served = CliRunner().invoke(main, ["serve", "--no-scheduler"])
    assert served.exit_code == 1 and "生产环境" in served.output

    monkeypatch.setenv("BIANMIN_SECRET_KEY", "short-key")
    with pytest.raises(NotConfigured, match="会话密钥过短"):
        create_app(open_services())
    monkeypatch.setenv("BIANMIN_SECRET_KEY", "k" * 40)
    assert create_app(open_services()).secret_key == "k" * 40
    svc.db.dispose()


def test_init_in_production_writes_no_key(instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIANMIN_ENV", "production")
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 0 and not (instance / SECRET_KEY_FILE).exists()


# -- sessions end when they should -------------------------------------------------------------------


def copy_of(client: FlaskClient, app: Flask) -> FlaskClient:
    """Another browser holding a copy of this one's session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_cookie_copied_before_logout_is_worthless_after_it(app: Flask, own: Services) -> None:
    username = new_user(own)
    client = app.test_client()
    assert web_login(client, username).status_code == 302
    thief = copy_of(client, app)
    assert logged_in(thief)

    post(client, "/logout")
    assert not logged_in(client)
    replayed = thief.get("/inbox")
    assert replayed.status_code == 302 and "/login" in replayed.location
    assert web_login(client, username).status_code == 302 and logged_in(client)  # logging in again works


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app: Flask, own: Services) -> None:
    username = new_user(own)
    here, elsewhere = app.test_client(), app.test_client()
    assert web_login(here, username).status_code == 302
    assert web_login(elsewhere, username).status_code == 302
    copied = copy_of(here, app)

    changed = post(here, "/account/password", {"old_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                "new_password_again": NEW_PASSWORD})
    assert changed.status_code == 302 and changed.location == "/inbox"
    page = here.get("/inbox")
    assert page.status_code == 200 and "密码已修改，其他浏览器和设备上的登录均已退出" in text(page)
    assert not logged_in(elsewhere)
    assert not logged_in(copied)  # the cookie from before the change is dead, though it came from this browser

    assert web_login(app.test_client(), username).status_code == 401
    assert web_login(app.test_client(), username, NEW_PASSWORD).status_code == 302


def test_deactivating_an_account_ends_its_sessions_for_good(app: Flask, own: Services) -> None:
    username = new_user(own)
    client = app.test_client()
    assert web_login(client, username).status_code == 302
    with own.db.write() as session:
        accounts.set_active(session, username, False)
    assert not logged_in(client)
    with own.db.write() as session:
        accounts.set_active(session, username, True)
    assert not logged_in(client)  # reactivation does not bring the old session back
    assert web_login(client, username).status_code == 302 and logged_in(client)


# -- throttling --------------------------------------------------------------------------------------


def test_wrong_passwords_lock_the_account_even_for_the_right_one(services: Services) -> None:
    username, bystander = new_user(services), new_user(services)
    address = next(ADDRESSES)
    for _ in range(signin.ACCOUNT.free):  # a few slips are free
        fail_login(services, username, address)
    delays = []
    for _ in range(signin.ACCOUNT.free + 1, signin.ACCOUNT.lock_at):
        fail_login(services, username, address)
        with pytest.raises(signin.TooManyAttempts) as waiting:
            signin.sign_in(services.db, username, PASSWORD, address)  # the right password, too soon
        delays.append(waiting.value.retry_after)
        wait_out(waiting.value)
    assert delays == [1, 2, 4, 8, 16, 32]  # the wait doubles with each failure

    fail_login(services, username, address)
    with pytest.raises(signin.TooManyAttempts) as locked:
        signin.sign_in(services.db, username, PASSWORD, address)
    assert locked.value.message == "该账号登录失败次数过多，已暂时锁定，请 15 分钟后再试"
    assert locked.value.retry_after == signin.ACCOUNT.lockout.total_seconds()
    with pytest.raises(signin.TooManyAttempts):
        signin.sign_in(services.db, username, PASSWORD, next(ADDRESSES))  # from any address

    assert signin.sign_in(services.db, bystander, PASSWORD, address).username == bystander
    clock.travel(signin.ACCOUNT.lockout)
    assert signin.sign_in(services.db, username, PASSWORD, address).username == username


def test_failures_across_usernames_throttle_the_address(services: Services) -> None:
    address, elsewhere = next(ADDRESSES), next(ADDRESSES)
    real = new_user(services)
    guessed = 0
    while guessed < signin.ADDRESS.lock_at:
        try:  # each name is tried once: no account rule applies, only the address's
            fail_login(services, f"nobody_{os.getpid()}_{guessed}_{address}", address)
            guessed += 1
        except signin.TooManyAttempts as refusal:
            assert guessed > signin.ADDRESS.free and "秒后再试" in refusal.message
            wait_out(refusal)
    with pytest.raises(signin.TooManyAttempts) as locked:
        signin.sign_in(services.db, real, PASSWORD, address)
    assert locked.value.message == "本机地址登录失败次数过多，已暂时锁定，请 15 分钟后再试"
    assert signin.sign_in(services.db, real, PASSWORD, elsewhere).username == real
    assert len(attempts(services, address=address, throttled=False)) == signin.ADDRESS.lock_at


def test_every_attempt_is_recorded(services: Services) -> None:
    username, address = new_user(services), next(ADDRESSES)
    fail_login(services, username, address)
    signin.sign_in(services.db, username, PASSWORD, address)
    fail_login(services, "no\x00such\ud800user", address)  # what cannot be stored is left out, not a 500
    rows = attempts(services, address=address)
    assert [(row.username, row.success, row.throttled) for row in rows] == [
        (username, False, False), (username, True, False), ("nosuchuser", False, False)]
    assert all(row.at <= clock.now() for row in rows)


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How often the slow password hash ran (the real one, counted)."""
    calls = []
    real = accounts._derive

    def counted(password: str, salt: bytes) -> bytes:
        calls.append(1)
        return real(password, salt)

    monkeypatch.setattr(accounts, "_derive", counted)
    return lambda: len(calls)


def test_unknown_user_and_wrong_password_cost_the_same_hash(services: Services,
                                                            hash_calls: Callable[[], int]) -> None:
    username, address = new_user(services), next(ADDRESSES)
    inactive = new_user(services)
    with services.db.write() as session:
        accounts.set_active(session, inactive, False)
    fail_login(services, "warm-up-the-dummy-hash", address)

    counts = {}
    for case, name in (("unknown", "no_such_person"), ("wrong password", username), ("inactive", inactive),
                       ("unusable name", "x" * 500)):
        before = hash_calls()
        fail_login(services, name, address)
        counts[case] = hash_calls() - before
    assert counts == {"unknown": 1, "wrong password": 1, "inactive": 1, "unusable name": 1}


def test_the_login_page_answers_429_with_retry_after(client: FlaskClient, own: Services,
                                                      hash_calls: Callable[[], int]) -> None:
    username, address = new_user(own), next(ADDRESSES)
    for _ in range(signin.ACCOUNT.free + 1):
        assert web_login(client, username, "wrong-password", address).status_code == 401
    before = hash_calls()
    refused = web_login(client, username, PASSWORD, address)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert "登录失败次数较多，请 1 秒后再试" in text(refused)
    assert hash_calls() == before  # refused before the password is even looked at
    assert not logged_in(client)
    clock.travel(timedelta(seconds=1))
    assert web_login(client, username, PASSWORD, address).status_code == 302 and logged_in(client)


# -- the password-change page ------------------------------------------------------------------------


def test_password_page_explains_every_mistake_and_changes_nothing(client: FlaskClient,
                                                                  own: Services) -> None:
    username = new_user(own)
    assert web_login(client, username).status_code == 302
    page = client.get("/account/password")
    assert page.status_code == 200 and "修改密码" in text(page)
    assert 'href="/account/password"' in client.get("/inbox").get_data(as_text=True)  # linked from the top bar

    def change(old: str, new: str, again: str | None = None) -> dict[str, list[str]]:
        response = post(client, "/account/password", {"old_password": old, "new_password": new,
                                                      "new_password_again": new if again is None else again})
        assert response.status_code == 422
        shown: dict[str, list[str]] = {}
        for field in lxml.html.fromstring(response.get_data(as_text=True)).xpath('//div[contains(@class, "field")]'):
            messages = [node.text_content().strip() for node in field.xpath('.//div[@class="field-error"]')]
            if messages:
                shown[field.xpath(".//input/@name")[0]] = messages
        return shown

    assert change(PASSWORD, NEW_PASSWORD, "something-else") == {"new_password_again": ["两次输入的新密码不一致"]}
    assert change("", NEW_PASSWORD) == {"old_password": ["请输入原密码"]}
    assert change("wrong-old-password", NEW_PASSWORD) == {"old_password": ["原密码不正确"]}
    assert change(PASSWORD, "short") == {"new_password": ["新密码至少需要 8 个字符"]}
    assert change(PASSWORD, username.upper()) == {"new_password": ["新密码不能与用户名相同"]}
    assert change(PASSWORD, PASSWORD) == {"new_password": ["新密码不能与原密码相同"]}
    assert logged_in(client)

    # Guessing the old password from a session is throttled like guessing at the login page.
    for _ in range(signin.ACCOUNT.free + 1):
        assert change("another-wrong-guess", NEW_PASSWORD) == {"old_password": ["原密码不正确"]}
    throttled = post(client, "/account/password", {"old_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                   "new_password_again": NEW_PASSWORD})
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert "登录失败次数较多，请 1 秒后再试" in text(throttled)
    with own.db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None and accounts.check_password(user.password_hash, PASSWORD)
        assert user.session_version == 1


def test_password_rules_hold_outside_the_page(own: Services) -> None:
    with own.db.write() as session, pytest.raises(ValidationFailed) as refused:
        accounts.add_user(session, f"short_{os.getpid()}", "village_agent", DONGPO, password="1234567")
    assert refused.value.message == "新密码不符合要求：新密码至少需要 8 个字符"


# -- the command line --------------------------------------------------------------------------------


def invoke(svc: Services, args: list[str], stdin: str | None = None) -> Any:
    return CliRunner().invoke(main, args, input=stdin, env={"BIANMIN_DATABASE_URL": svc.db.url})


def can_log_in(svc: Services, username: str, password: str) -> bool:
    with svc.db.read() as session:
        return accounts.authenticate(session, username, password) is not None


def test_user_add_without_a_terminal(own: Services) -> None:
    add = ["user", "add", "--role", "village_agent", "--org", DONGPO]
    piped = invoke(own, [*add, "clerk_piped", "--password-stdin"], "piped-password-1\n")
    assert piped.exit_code == 0, piped.output
    assert "piped-password-1" not in piped.output and can_log_in(own, "clerk_piped", "piped-password-1")

    generated = invoke(own, [*add, "clerk_generated"])
    assert generated.exit_code == 0, generated.output
    shown = re.findall(r"初始密码（只显示这一次，请转交本人并提醒登录后修改）：(\S+)", generated.output)
    assert len(shown) == 1 and len(shown[0]) >= 12 and can_log_in(own, "clerk_generated", shown[0])

    weak = invoke(own, [*add, "clerk_weak", "--password-stdin"], "clerk_weak\n")
    assert weak.exit_code == 1 and "新密码不能与用户名相同" in weak.output
    empty = invoke(own, [*add, "clerk_empty", "--password-stdin"], "")
    assert empty.exit_code == 1 and "标准输入中没有密码" in empty.output
    with own.db.read() as session:
        assert session.scalar(select(func.count()).select_from(User).where(
            User.username.in_(["clerk_weak", "clerk_empty"]))) == 0


def test_user_passwd_resets_the_password_and_ends_sessions(own: Services) -> None:
    with own.db.write() as session:
        accounts.add_user(session, "clerk_forgetful", "village_agent", DONGPO, password=PASSWORD)
    result = invoke(own, ["user", "passwd", "clerk_forgetful", "--password-stdin"], f"{NEW_PASSWORD}\n")
    assert result.exit_code == 0 and "会话均已失效" in result.output
    assert can_log_in(own, "clerk_forgetful", NEW_PASSWORD)
    assert not can_log_in(own, "clerk_forgetful", PASSWORD)
    with own.db.read() as session:
        assert session.scalar(select(User.session_version).where(User.username == "clerk_forgetful")) == 2
    missing = invoke(own, ["user", "passwd", "nobody_here", "--password-stdin"], f"{NEW_PASSWORD}\n")
    assert missing.exit_code == 1 and "用户“nobody_here”不存在" in missing.output


def test_a_deactivated_account_can_neither_log_in_nor_use_its_token(own: Services) -> None:
    with own.db.write() as session:
        accounts.add_user(session, "clerk_leaving", "village_agent", DONGPO, password=PASSWORD)
        token = accounts.create_token(session, "clerk_leaving")
    api = create_app(own, {"TESTING": True}).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    result = invoke(own, ["user", "deactivate", "clerk_leaving"])
    assert result.exit_code == 0 and "已停用账号 clerk_leaving" in result.output
    assert not can_log_in(own, "clerk_leaving", PASSWORD)
    refused = api.get("/api/v1/tasks", headers=headers)
    assert refused.status_code == 401 and refused.json["error"] == "令牌所属账号已停用"
    assert invoke(own, ["user", "deactivate", "clerk_leaving", "--undo"]).exit_code == 0
    assert can_log_in(own, "clerk_leaving", PASSWORD)
    assert api.get("/api/v1/tasks", headers=headers).status_code == 200


def test_tokens_expire_list_without_their_secret_and_can_be_revoked(own: Services) -> None:
    api = create_app(own, {"TESTING": True}).test_client()
    created = invoke(own, ["token", "create", "dongpo_agent", "--days", "1"])
    assert created.exit_code == 0
    token = created.output.strip()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/tasks", headers=headers).status_code == 200

    listed = invoke(own, ["token", "list", "dongpo_agent"])
    assert listed.exit_code == 0 and token not in listed.output
    row = listed.output.splitlines()[1].split("\t")
    assert row[0].isdigit() and row[1] == "dongpo_agent" and row[-1] == "有效"
    assert row[2] == clock.local_now().strftime("%Y-%m-%d %H:%M") == row[4]  # created and last used: just now
    assert row[3] == (clock.local_now() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")

    clock.travel(timedelta(days=1, minutes=1))
    expired = api.get("/api/v1/tasks", headers=headers)
    assert expired.status_code == 401 and expired.headers["WWW-Authenticate"].startswith("Bearer")
    assert re.fullmatch(r"访问令牌已于 \d{4}-\d\d-\d\d \d\d:\d\d 过期，请向管理员申请新令牌", expired.json["error"])
    assert invoke(own, ["token", "list", "dongpo_agent"]).output.splitlines()[1].endswith("\t已过期")

    fresh = invoke(own, ["token", "create", "dongpo_agent"]).output.strip()
    fresh_id = invoke(own, ["token", "list", "dongpo_agent"]).output.splitlines()[1].split("\t")[0]
    assert api.get("/api/v1/tasks", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    revoked = invoke(own, ["token", "revoke", fresh_id])
    assert revoked.exit_code == 0 and f"已撤销令牌 {fresh_id}（dongpo_agent）" in revoked.output
    refused = api.get("/api/v1/tasks", headers={"Authorization": f"Bearer {fresh}"})
    assert refused.status_code == 401 and refused.json["error"] == "访问令牌已被撤销，请向管理员申请新令牌"
    assert invoke(own, ["token", "revoke", "999999"]).exit_code == 1
    too_long = invoke(own, ["token", "create", "dongpo_agent", "--days", "100000"])
    assert too_long.exit_code == 2


# -- headers -----------------------------------------------------------------------------------------


def inline_code(html: str) -> list[str]:
    """Everything in a page that a Content-Security-Policy without 'unsafe-inline' would block."""
    page = lxml.html.fromstring(html)
    found = [f"<script> with code: {script.text[:40]!r}" for script in page.iter("script")
             if (script.text or "").strip() and script.get("type") != "application/json"]
    found += ["<script> without src" for script in page.iter("script")
              if not script.get("src") and script.get("type") != "application/json"]
    found += ["<style> element" for _ in page.iter("style")]
    for element in page.iter():
        for name, value in element.attrib.items():
            if name.startswith("on") or name == "style" or value.strip().lower().startswith("javascript:"):
                found.append(f"<{element.tag} {name}={value[:40]!r}>")
    return found


def test_every_main_page_has_the_headers_and_no_inline_script(app: Flask, own: Services) -> None:
    agent, committee = app.test_client(), app.test_client()
    pages = {"/login": agent.get("/login")}
    assert web_login(agent, "dongpo_agent").status_code == 302
    assert web_login(committee, "dongpo_committee").status_code == 302
    case = start(own)
    with own.db.read() as session:
        task = session.scalar(select(Task).where(Task.case_id == case.id))
    assert task is not None
    for url in ("/inbox", "/inbox?tab=post", "/ledger", "/cases/new", "/cases/new?item=MZ-DIBAO",
                f"/cases/{case.id}", "/account/password", "/no-such-page"):
        pages[url] = agent.get(url)
    pages["task"] = committee.get(f"/tasks/{task.id}")
    for url, response in pages.items():
        assert response.status_code in (200, 404), url
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP: HSTS would mean nothing
        assert inline_code(response.get_data(as_text=True)) == [], url
    assert "Content-Security-Policy" in agent.get("/api/v1/openapi.json").headers


def test_https_gets_hsts_and_a_secure_cookie(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login", base_url="https://bianmin.example")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    [token] = lxml.html.fromstring(page.get_data(as_text=True)).xpath('//input[@name="csrf_token"]/@value')
    response = client.post("/login", data={"username": "dongpo_agent", "password": PASSWORD, "csrf_token": token},
                           base_url="https://bianmin.example")
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=") and "; Secure" in cookie and "HttpOnly" in cookie

    plain = app.test_client()
    response = post(plain, "/login", {"username": "dongpo_agent", "password": PASSWORD})
    assert "Secure" not in response.headers["Set-Cookie"]


def test_behind_a_proxy_https_is_read_from_its_headers_only_when_asked(own: Services,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    direct = create_app(own, {"TESTING": True}).test_client()
    assert "Strict-Transport-Security" not in direct.get("/login", headers=forwarded).headers

    monkeypatch.setenv("BIANMIN_PROXY_FIX", "1")
    assert load_settings().proxy_fix
    proxied_services = open_services(own.db.url)
    proxied = create_app(proxied_services, {"TESTING": True}).test_client()
    assert "Strict-Transport-Security" in proxied.get("/login", headers=forwarded).headers
    username = new_user(own)
    post(proxied, "/login", {"username": username, "password": "wrong-password"}, headers=forwarded)
    assert [row.address for row in attempts(own, username=username)] == ["203.0.113.9"]
    proxied_services.db.dispose()
