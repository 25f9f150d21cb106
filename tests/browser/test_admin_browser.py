"""The admin pages in a real headless Chromium (Debian's binary) driven by Playwright.

The server is the real app under uvicorn on a free loopback port, in a thread, on a SQLite
file seeded with the same small portfolio as the API tests.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.orm import Session

from arbitration.api import create_app
from config.settings import Settings
from models.base import Base
from models.db import make_engine
from models.decision import Decision
from tests.admin.conftest import PASSWORD, TODAY, World, seed

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and shutil.which("chromium") is None, reason="no system chromium"
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(sqlite_settings: Settings) -> Iterator[tuple[str, World, Settings]]:
    engine = make_engine(sqlite_settings.database_url)
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        world = seed(session)
    engine.dispose()
    app = create_app(sqlite_settings, secret_key="browser", today=lambda: TODAY)
    port = _free_port()
    uv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start within 20 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", world, sqlite_settings
    uv.should_exit = True
    thread.join(timeout=10)
    app.state.engine.dispose()


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _sign_in(browser: object, base: str, username: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=base)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto("/queue")
    assert page.url.endswith("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/queue")
    return page


def _status(settings: Settings, decision_id: int) -> tuple[str, int | None]:
    engine = make_engine(settings.database_url)
    with Session(engine) as s:
        d = s.get(Decision, decision_id)
        assert d is not None
        result = (d.status, d.final_cents)
    engine.dispose()
    return result


def test_login_queue_keyboard_and_dossier(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, _, _ = server
    errors: list[str] = []
    page = _sign_in(browser, base, "ann")
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    rows = page.locator("table.queue tbody tr[data-href]")
    assert rows.count() == 2  # AUTO only: the LATAM referral is not ann's
    page.keyboard.press("j")
    assert "selected" in (rows.nth(0).get_attribute("class") or "")
    page.keyboard.press("j")
    assert "selected" in (rows.nth(1).get_attribute("class") or "")
    page.keyboard.press("k")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "f-desk"
    page.locator("main h1").click()  # leave the filter, then open the selected row from the keyboard
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url("**/decisions/*")
    page.get_by_role("link", name="552100554").click()
    page.wait_for_url("**/buyers/552100554")
    assert page.locator("svg.plot").count() == 1
    assert page.get_by_text("Textiles du Nord").count() >= 1
    assert page.get_by_text("AUTO-PD-CAP").count() >= 1
    assert errors == []  # no CSP violation, no script error


def test_four_eyes_approval_in_the_browser(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, world, settings = server
    did = world.decisions["four_eyes"]
    ann = _sign_in(browser, base, "ann")
    ann.goto(f"/decisions/{did}")
    ann.keyboard.press("a")  # chooses approve and focuses the mandatory comment
    assert ann.evaluate("document.activeElement.id") == "comment"
    ann.keyboard.type("Payment experience is clean; I propose the increase")
    ann.get_by_role("button", name="Record decision").click()
    ann.wait_for_url("**done=awaiting_second")
    assert "second arbiter" in ann.locator("#done").inner_text()
    assert _status(settings, did) == ("referred", None)
    # The proposer cannot give the second approval.
    ann.get_by_label("Comment (mandatory)").fill("approving my own proposal")
    ann.get_by_role("button", name="Record decision").click()
    assert "never the proposer" in ann.locator("#error-message").inner_text()
    assert _status(settings, did) == ("referred", None)
    # A different arbiter with enough authority approves.
    bob = _sign_in(browser, base, "bob")
    bob.goto(f"/decisions/{did}")
    assert "awaiting_second" in bob.locator("#task-status").inner_text()
    bob.get_by_label("Comment (mandatory)").fill("Agreed")
    bob.get_by_role("button", name="Record decision").click()
    bob.wait_for_url("**done=decided")
    assert bob.locator("#status").inner_text() == "approved"
    assert _status(settings, did) == ("approved", 400_000 * 100)
