"""The 接口机密 page in the browser: an administrator enters the population service's token from the menu; the list
then shows its name, who set it and where it is used, and the value is nowhere on the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine import clock, secrets
from engine.services import Services
from tests.conftest import user_id
from tests.test_browser import browser, log_in, page, served, shot  # noqa: F401  (fixtures)
from tests.test_secrets_web import TOKEN_ITEM, TOKEN_SECRET, deploy_token_lookup, keyed, sending, stored


@pytest.fixture(scope="module")
def base_url(sqlite_services: Services) -> Iterator[str]:
    """The demo server as started with BIANMIN_SECRETS_KEY."""
    with served(keyed(sqlite_services)) as url:
        yield url


def test_an_administrator_enters_a_token_and_sees_its_name_listed(page: Page, sqlite_services: Services,  # noqa: F811
                                                                    tmp_path: Path) -> None:
    svc = sqlite_services
    deploy_token_lookup(svc, tmp_path)
    admin, settings = user_id(svc, "admin"), keyed(svc).settings
    with svc.db.write() as session:
        secrets.store(session, "sms_gateway_key", "gw-6d1f0c9e-browser", admin, clock.now(), settings=settings)
        secrets.store(session, "county_archive.upload-key", "ak-archive-77", admin, clock.now(), settings=settings)
    value = "rkk-Bearer-2b7e151628aed2a6abf71589"
    with sending(svc, "sms_gateway_key", "smtp_password_qingshan_mail"):
        log_in(page, "admin")
        page.click("#nav-secrets")
        expect(page.locator("h1")).to_have_text("接口机密")
        expect(page.locator(f"tr[data-secret='{TOKEN_SECRET}']")).to_contain_text("尚未录入")
        page.fill("#secret-name", TOKEN_SECRET)
        page.fill("#secret-value", value)
        page.click("#secret-save")
        expect(page.locator(".flash-success")).to_contain_text(f"已加密保存机密“{TOKEN_SECRET}”")
        row = page.locator(f"tr[data-secret='{TOKEN_SECRET}']")
        expect(row).to_contain_text("系统管理员")
        expect(row).to_contain_text(TOKEN_ITEM)
        expect(row).to_contain_text("人口库核验")
        expect(page.locator("tr[data-secret='sms_gateway_key']")).to_contain_text("BIANMIN_SMS_KEY_SECRET")
        expect(page.locator("tr[data-secret='smtp_password_qingshan_mail']")).to_contain_text("尚未录入")
        expect(page.locator("#secret-value")).to_have_value("")
        assert value not in page.content()
        # The header's eleven links and the user box stay on one line at 1366 px.
        assert page.locator(".topbar").bounding_box()["height"] < 60
        shot(page, "193-secrets", full_page=True)
    assert stored(svc, TOKEN_SECRET) == value
