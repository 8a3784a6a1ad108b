"""The dashboard in a real browser: Debian's Chromium (``/usr/bin/chromium``) driven by
Playwright against the application served by uvicorn on 127.0.0.1, on a gateway home where
a real chain was driven (``test_pages.build_world``).

An admin logs in, filters the log by PO, opens an exchange and resends it (the copy is
queued); a read-only operator sees no action, and a POST forged with their own session's
CSRF token is refused with 403. A screenshot of every page is written as a test artifact
to ``$ACORN_TEST_ARTIFACTS`` (default ``tests/artifacts/``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.pipeline_sim import read_store
from tests.web.test_pages import (
    ADMIN,
    ADMIN_PASSWORD,
    READER,
    READER_PASSWORD,
    Serving,
    build_world,
)

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
#: Headless, and nothing that reaches the network or the disk beyond the test.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
PNG = b"\x89PNG\r\n\x1a\n"


def artifacts() -> Path:
    """Where screenshots go: ``$ACORN_TEST_ARTIFACTS``, else ``tests/artifacts/``."""
    directory = Path(os.environ.get("ACORN_TEST_ARTIFACTS") or REPO / "tests" / "artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Chromium under Playwright (skipped, with the reason, when either is missing)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"the playwright package is not installed: {exc}")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


def shoot(page: Any, name: str, shots: list[Path]) -> None:
    """A full-page screenshot ``dashboard-<name>.png`` in the artifacts directory."""
    path = artifacts() / f"dashboard-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    shots.append(path)


def log_in(page: Any, name: str, password: str) -> None:
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("form.login button[type=submit]")


def test_operators_work_the_dashboard_in_chromium(chromium: Any, tmp_path: Path) -> None:
    world = build_world(tmp_path / "home")
    ids, po = world.ids, world.po
    shots: list[Path] = []
    with Serving(world) as site:
        context = chromium.new_context(base_url=site.base,
                                       viewport={"width": 1360, "height": 900})  # fmt: skip
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("dialog", lambda dialog: dialog.accept())  # "Send exchange N again?"

        # Log in: the log sends a browser to the login page and back.
        page.goto("/exchanges")
        assert page.url.endswith("/login?next=%2Fexchanges")
        log_in(page, ADMIN, "not the password")
        assert page.locator("p.error").inner_text() == "Unknown operator or wrong password."
        shoot(page, "login", shots)
        log_in(page, ADMIN, ADMIN_PASSWORD)
        page.wait_for_url("**/exchanges")
        assert page.locator("header .who span").inner_text() == f"{ADMIN} (admin)"
        total = page.locator("tr.exchange").count()
        assert total == len(read_store(world.home.database_url).exchanges)
        shoot(page, "log", shots)

        # Filter by PO.
        page.fill("form.filters input[name=po]", po["full"])
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(rf"/exchanges\?.*po={po['full']}"))
        keys = page.locator("tr.exchange td.keys").all_inner_texts()
        assert 7 <= len(keys) < total
        assert all(f"PO {po['full']}" in cell for cell in keys)
        assert page.locator(f'tr.exchange[data-id="{ids["850_late"]}"]').count() == 0
        shoot(page, "log-filtered", shots)

        # Open a detail page: the 855 sent for that PO, its ERP export beside.
        page.click(f'tr.exchange[data-id="{ids["out_855"]}"] td:first-child a')
        page.wait_for_url(f"**/exchanges/{ids['out_855']}")
        assert page.locator("h1").inner_text().startswith(f"Exchange #{ids['out_855']}")
        assert "ERP export" in page.locator(".pane.beside h2").first.inner_text()
        assert page.locator(".pane.own table.x12 tr.seg").count() > 10
        shoot(page, "detail", shots)

        # Resend as admin: a copy is queued, and its page says so.
        page.click("button:has-text('Resend')")
        page.wait_for_url(re.compile(rf"/exchanges/{ids['out_855']}\?done="))
        flash = page.locator("#flash").inner_text()
        copy = int(re.search(r"queued as exchange (\d+)", flash).group(1))  # type: ignore[union-attr]
        shoot(page, "detail-resent", shots)
        page.goto(f"/exchanges/{copy}")
        assert page.locator("h1 .badge").inner_text() == "queued"
        states = {e.id: e.state for e in read_store(world.home.database_url).exchanges}
        assert states[copy] == "queued"

        # The rejected 850: its finding beside the segment it names.
        page.goto(f"/exchanges/{ids['850_rejected']}")
        flagged = page.locator(".pane.own tr.seg.flagged")
        assert flagged.count() == 1
        assert "DTM*064*20261341" in flagged.inner_text() and "AK403=8" in flagged.inner_text()
        shoot(page, "detail-rejected", shots)

        # The PO board, alerts and health, through the header's links.
        page.click("header nav a:has-text('PO board')")
        page.wait_for_url("**/po")
        assert "late by" in page.locator("table.waiting").inner_text()
        shoot(page, "po-board", shots)
        page.click(f"table.board a:has-text('{po['full']}')")
        page.wait_for_url(f"**/po/{po['full']}")
        shoot(page, "po-chain", shots)
        page.click("header nav a:has-text('Alerts')")
        page.wait_for_url("**/alerts")
        assert "po_ack_late" in page.locator("table.alerts.open").inner_text()
        shoot(page, "alerts", shots)
        page.click("header nav a:has-text('Health')")
        page.wait_for_url("**/health")
        assert page.locator("table.certificates tbody tr").count() == 2
        shoot(page, "health", shots)

        # A read-only operator: no buttons, and a forged POST is refused.
        page.click("header button:has-text('Log out')")
        page.wait_for_url("**/login")
        log_in(page, READER, READER_PASSWORD)
        page.wait_for_url("**/exchanges")
        page.goto(f"/exchanges/{ids['out_855']}")
        assert page.locator("form[action$='/resend'], form[action$='/reprocess']").count() == 0
        assert "Read-only" in page.locator("#read-only").inner_text()
        shoot(page, "detail-read-only", shots)
        before = len(read_store(world.home.database_url).exchanges)
        with page.expect_navigation() as navigation:
            page.evaluate("""(target) => {
                const form = document.createElement("form");
                form.method = "post";
                form.action = target;
                const token = document.querySelector("input[name=csrf]").cloneNode();
                form.appendChild(token);  // the reader's own, valid, CSRF token
                document.body.appendChild(form);
                form.submit();
            }""", f"/exchanges/{ids['out_855']}/resend")  # fmt: skip
        assert navigation.value.status == 403
        assert f"{READER} is a read-only operator" in page.locator("main").inner_text()
        shoot(page, "refused", shots)
        assert len(read_store(world.home.database_url).exchanges) == before
        context.close()

    assert [p.name.removeprefix("dashboard-").removesuffix(".png") for p in shots] == [
        "login", "log", "log-filtered", "detail", "detail-resent", "detail-rejected",
        "po-board", "po-chain", "alerts", "health", "detail-read-only", "refused"]  # fmt: skip
    for path in shots:
        data = path.read_bytes()
        assert data.startswith(PNG) and len(data) > 5_000, path
