"""The pages for reps and managers in a real browser: Debian's headless Chromium driven by Playwright,
against `guanxi serve` in its own process on a simulated world, with an API key (so through sign-in)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm.store import FEEDBACK, SERVED, make_engine
from serving import launch
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
KEY = "pages-key-0001"
CHROMIUM = os.environ.get("GUANXI_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / ".tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("GUANXI_SCREENSHOTS", ROOT / ".tools" / "screenshots"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def site(served_world: dict[str, object], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    home = tmp_path_factory.mktemp("pages-home")
    shutil.copy(served_world["template"], home / "guanxi.db")
    port = launch.free_port()
    env = {**os.environ, "GUANXI_HOME": str(home), "GUANXI_MODELS_DIR": str(served_world["models"]),
           "GUANXI_USE_REGISTRY": "false", "GUANXI_API_KEYS": KEY}
    env.pop("GUANXI_DATABASE_URL", None)
    with (home / "server.log").open("w") as log:
        proc = launch.start(env, port, log=log)
    base = f"http://127.0.0.1:{port}"
    engine = make_engine(f"sqlite:///{home / 'guanxi.db'}")
    yield {"base": base, "engine": engine, "sim": served_world["sim"]}
    engine.dispose()
    launch.stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser: object, site: dict[str, object]) -> Iterator[object]:
    """A signed-in page: the sign-in form sets the key's cookie."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
    pg = context.new_page()
    pg.goto(f"{site['base']}/reps/R0002")
    assert "/login" in pg.url  # no key yet: sent to sign in
    pg.fill("#key", KEY)
    pg.click("button[type=submit]")
    pg.wait_for_url("**/reps/R0002")
    yield pg
    context.close()


def _shot(pg: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    assert path.stat().st_size > 10_000


def _accessible(pg: object) -> None:
    """axe-core (WCAG 2 A/AA rules) finds no violation: labels, contrast, names of buttons and links."""
    pg.add_script_tag(path=str(AXE))  # type: ignore[attr-defined]
    result = pg.evaluate("async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})")  # type: ignore
    assert result["violations"] == [], [(v["id"], v["help"], len(v["nodes"])) for v in result["violations"]]


def test_each_page_loads_is_accessible_and_is_photographed(page: object, site: dict[str, object]) -> None:
    base = site["base"]
    pg = page
    pg.goto(f"{base}/?lang=en")  # type: ignore[attr-defined]
    assert pg.locator("a[href^='/reps/']").count() >= 8  # type: ignore[attr-defined]
    _accessible(pg)
    pg.goto(f"{base}/reps/R0002?lang=en")  # type: ignore[attr-defined]
    actions = pg.locator("ol.actions > li")  # type: ignore[attr-defined]
    assert actions.count() > 0 and "Today's actions" in pg.inner_text("h1")  # type: ignore[attr-defined]
    _accessible(pg)
    _shot(pg, "rep-day")
    rep, contact = "R0002", actions.first.get_attribute("data-contact")
    pg.goto(f"{base}/relationships/{rep}/{contact}?lang=en")  # type: ignore[attr-defined]
    assert pg.locator("svg rect").count() == 8 and pg.locator(".big").count() == 3  # type: ignore[attr-defined]
    _accessible(pg)
    _shot(pg, "relationship-card")
    account = pg.locator("p.sub a").first.get_attribute("href")  # type: ignore[attr-defined]
    pg.goto(f"{base}{account}")  # type: ignore[attr-defined]
    assert pg.locator("table").count() >= 1 and "Open deals" in pg.content()  # type: ignore[attr-defined]
    _accessible(pg)
    _shot(pg, "account-map")
    team = str(site["sim"].tables["reps"].set_index("rep_id").loc[rep, "team"])
    pg.goto(f"{base}/teams/{team}?lang=en")  # type: ignore[attr-defined]
    assert "Coverage of key accounts" in pg.content() and "Ties at risk" in pg.content()  # type: ignore
    _accessible(pg)
    _shot(pg, "manager-view")


def test_done_from_the_keyboard_removes_the_action_and_records_feedback(page: object, site: dict[str, object]
                                                                        ) -> None:
    pg = page
    pg.goto(f"{site['base']}/reps/R0003?lang=en")  # type: ignore[attr-defined]
    first = pg.locator("ol.actions > li").first  # type: ignore[attr-defined]
    action, contact = first.get_attribute("data-action"), first.get_attribute("data-contact")
    for _ in range(60):  # tab through the page to the first "Done" button, then press Enter
        pg.keyboard.press("Tab")  # type: ignore[attr-defined]
        if pg.evaluate("document.activeElement.value") == "done":  # type: ignore[attr-defined]
            break
    else:
        raise AssertionError("no Done button reachable from the keyboard")
    with pg.expect_navigation():  # type: ignore[attr-defined]
        pg.keyboard.press("Enter")  # type: ignore[attr-defined]
    assert pg.locator("[role=status]").inner_text().endswith(f"done: {action}")  # type: ignore[attr-defined]
    left = pg.locator(f"ol.actions > li[data-action='{action}'][data-contact='{contact}']")  # type: ignore
    assert left.count() == 0
    with site["engine"].connect() as conn:
        rows = conn.execute(sa.select(FEEDBACK.c.action, FEEDBACK.c.status, FEEDBACK.c.note).where(
            FEEDBACK.c.rep_id == "R0003", FEEDBACK.c.contact_id == contact)).all()
        offered = conn.execute(sa.select(sa.func.count()).select_from(SERVED).where(SERVED.c.rep_id == "R0003")
                               ).scalar_one()
    assert (action, "done", "page") in [tuple(r) for r in rows] and offered > 0
    # and with the mouse: click "Done" on the (new) first action
    first = pg.locator("ol.actions > li").first  # type: ignore[attr-defined]
    action, contact = first.get_attribute("data-action"), first.get_attribute("data-contact")
    with pg.expect_navigation():  # type: ignore[attr-defined]
        first.locator("button[value=done]").click()
    assert pg.locator(f"ol.actions > li[data-action='{action}'][data-contact='{contact}']").count() == 0  # type: ignore
    with site["engine"].connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(FEEDBACK).where(
            FEEDBACK.c.rep_id == "R0003", FEEDBACK.c.contact_id == contact, FEEDBACK.c.action == action,
            FEEDBACK.c.status == "done")).scalar_one() == 1


def test_the_chinese_page_renders_cjk_text_in_a_cjk_font(page: object, site: dict[str, object]) -> None:
    pg = page
    pg.goto(f"{site['base']}/reps/R0002?lang=zh")  # type: ignore[attr-defined]
    assert "今日行动" in pg.inner_text("h1")  # type: ignore[attr-defined]
    assert pg.evaluate("document.documentElement.lang") == "zh-Hans"  # type: ignore[attr-defined]
    reasons = pg.locator("ul.reasons li").first.inner_text()  # type: ignore[attr-defined]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in reasons)
    # a font with the glyphs is installed and used (not boxes)
    assert pg.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '今日行动')")  # type: ignore
    _shot(pg, "rep-day-zh")
