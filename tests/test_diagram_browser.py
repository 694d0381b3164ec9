"""The case page's diagram is legible however many lanes it has: shown at a readable scale around the current step,
with zoom buttons for the whole diagram; a small one is fitted whole."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from engine.services import Services
from tests.conftest import ARTIFACTS
from tests.test_browser import base_url, browser, log_in, page, shot  # noqa: F401  (fixtures)
from tests.test_engine import start

LEGIBLE = 0.8  # the scale below which bpmn-js's 12 px labels blur (webui/static/diagram.js)


def scale(diagram: Locator) -> float:
    """The scale bpmn-js draws at: the viewport group's transform matrix(a, b, c, d, e, f)."""
    return diagram.evaluate("box => box.querySelector('g.viewport').getCTM().a")


def inside(diagram: Locator, element: Locator, slack: float = 4) -> bool:
    """Whether `element` is drawn within the box (give or take the few pixels of a shape's outline)."""
    outer, inner = diagram.bounding_box(), element.bounding_box()
    assert outer and inner
    return (outer["x"] - slack <= inner["x"] and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and outer["y"] - slack <= inner["y"]
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


def test_a_seven_lane_diagram_opens_legible_at_the_current_step(page: Page,  # noqa: F811
                                                                 sqlite_services: Services) -> None:
    case = start(sqlite_services, "ZR-ZHAIJIDI")
    log_in(page, "dongpo_agent")
    page.goto(f"/cases/{case.id}")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    lanes = diagram.locator(".djs-element[data-element-id^='Lane_']")
    assert lanes.count() >= 7
    assert scale(diagram) >= LEGIBLE
    active = diagram.locator(".djs-element.bm-active").first
    expect(active).to_be_visible()
    assert inside(diagram, active)
    # Taller than the old fixed box, yet the page still shows other cards beside it.
    height = diagram.bounding_box()["height"]  # type: ignore[index]
    assert 430 <= height <= 0.8 * 768 + 1
    diagram.scroll_into_view_if_needed()
    shot(page, "165-case-diagram-seven-lanes-legible")

    diagram.get_by_role("button", name="全图").click()
    whole = scale(diagram)
    assert whole < LEGIBLE
    for lane in range(lanes.count()):
        assert inside(diagram, lanes.nth(lane))
    diagram.screenshot(path=str(ARTIFACTS / "166-case-diagram-whole.png"))

    diagram.get_by_title("放大").click()
    assert abs(scale(diagram) - whole * 1.25) < 0.01
    diagram.get_by_role("button", name="看清当前步骤").click()
    assert scale(diagram) >= LEGIBLE and inside(diagram, active)


def test_a_small_diagram_is_fitted_whole(page: Page, sqlite_services: Services) -> None:  # noqa: F811
    case = start(sqlite_services, "LY-CAIFA")
    log_in(page, "dongpo_agent")
    page.goto(f"/cases/{case.id}")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    assert scale(diagram) >= LEGIBLE
    every = diagram.locator(".djs-shape")
    for shape in range(every.count()):
        assert inside(diagram, every.nth(shape))
    diagram.screenshot(path=str(ARTIFACTS / "167-case-diagram-small-fitted.png"))
