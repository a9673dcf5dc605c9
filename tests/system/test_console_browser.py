"""The web console in a real browser (docs/console.md): Debian's Chromium, headless, driven by
Playwright through its ``executable_path`` (no browser is downloaded). A rates analyst logs in,
follows an import from the dashboard to its diff, releases a held deck with a column answer
and sees the new version; a viewer has no Release button; a form sent without its CSRF token
is refused; a session cookie planted from another person's login does not carry over.

With ``INGESTD_SCREENSHOTS=docs/screenshots`` the tests write the README's screenshots of the
dashboard, a diff and a held message there."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from rig.console import PASSWORD, ConsoleSite
from rig.smtp import missing

from ingestd.service import audit, messages, tables

CHROMIUM = os.environ.get("INGESTD_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def site(tmp_path, sqlite_url) -> Iterator[ConsoleSite]:
    with ConsoleSite(tmp_path, sqlite_url) as site:
        yield site


@pytest.fixture
def shots(tmp_path, request) -> Path:
    """INGESTD_SCREENSHOTS, relative to where pytest was started (each test runs in a folder of
    its own), else a folder of the test's."""
    wanted = os.environ.get("INGESTD_SCREENSHOTS")
    if not wanted:
        return tmp_path / "shots"
    return request.config.invocation_params.dir / wanted


def screenshot(page, shots: Path, name: str) -> None:
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert (shots / f"{name}.png").stat().st_size > 10_000


def log_in(browser, site: ConsoleSite, name: str, **context):
    page = browser.new_context(viewport={"width": 1280, "height": 800}, **context).new_page()
    page.goto(site.url + "/ui/")
    assert page.url.startswith(site.url + "/ui/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(site.url + "/ui/")
    return page


def test_an_analyst_follows_an_import_from_the_dashboard_to_its_diff(browser, site, shots):
    site.two_versions()
    site.held_deck()
    page = log_in(browser, site, "vera")
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    for name in ("Quarantine", "Vendors", "Outbox", "Lookup"):
        assert page.get_by_role("link", name=name, exact=True).is_visible()
    screenshot(page, shots, "dashboard")
    page.get_by_role("link", name="Import report of acme default version 2").click()
    assert page.get_by_role("heading", name="Columns").is_visible()
    assert page.get_by_role("cell", name="price_jump").is_visible()
    page.get_by_role("link", name="Changes from version 1").click()
    assert page.get_by_role("heading", name="acme · default: version 1 → 2").is_visible()
    rows = page.locator("tbody tr")
    assert rows.count() == 4
    page.get_by_label("Change").select_option("increase")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("tbody tr").count() == 1
    assert page.locator("tbody tr").first.inner_text().startswith("49\tGermany\tincrease")
    page.get_by_label("Change").select_option("")
    page.get_by_role("button", name="Filter").click()
    screenshot(page, shots, "diff")
    with page.expect_download() as done:
        page.get_by_role("link", name="Download these changes (CSV)").click()
    text = Path(done.value.path()).read_text()
    assert text.splitlines()[0].startswith("code,description,change")
    assert len(text.splitlines()) == 5


def test_an_operator_releases_a_held_deck_with_a_column_mapping(browser, site, shots):
    held = site.held_deck()
    page = log_in(browser, site, "olga")
    page.get_by_role("link", name="Quarantine", exact=True).click()
    page.get_by_role("link", name="Acme rate update").click()
    assert page.get_by_text("the column is not read but holds whole seconds").first.is_visible()
    screenshot(page, shots, "held-message")
    page.get_by_label("Column D “Rnd” (in doubt)", exact=False).select_option("pulse")
    page.get_by_label("Release note").fill("Rnd is the pulse")
    page.get_by_role("button", name="Release").click()
    assert page.get_by_text("imported as version 1").first.is_visible()
    page.get_by_role("link", name="acme default version 1").click()
    assert page.get_by_role("heading", name="acme · default version 1").is_visible()
    page.get_by_role("link", name="Rows of version 1").click()
    assert page.locator("tbody tr").count() == 3
    assert messages.held_message(site.app, held).state == "released"
    assert tables.versions(site.app, "acme").versions[-1].number == 1
    page.get_by_role("link", name="Audit log").click()
    assert page.get_by_role("cell", name="user olga").is_visible()


def test_a_viewer_has_no_release_button(browser, site):
    held = site.held_deck()
    page = log_in(browser, site, "vera")
    page.goto(f"{site.url}/ui/quarantine/{held}")
    assert page.get_by_text("may read the quarantine").is_visible()
    assert page.get_by_role("button", name="Release").count() == 0
    assert page.get_by_role("button", name="Drop").count() == 0


def test_a_form_sent_without_its_csrf_token_is_refused(browser, site):
    held = site.held_deck()
    page = log_in(browser, site, "olga", bypass_csp=True)
    page.goto(f"{site.url}/ui/quarantine/{held}")
    page.locator("form[action$='/drop'] input[name=csrf]").evaluate("e => e.remove()")
    page.get_by_role("button", name="Drop").click()
    assert page.get_by_text("security token is missing or out of date").is_visible()
    assert messages.held_message(site.app, held).state == "held"
    assert audit.entries(site.app) == []


def test_a_session_cookie_from_another_login_does_not_carry_over(browser, site):
    held = site.held_deck()
    attacker = log_in(browser, site, "vera")
    (planted,) = [c for c in attacker.context.cookies() if c["name"] == "ingestd_session"]
    victim = browser.new_context().new_page()
    victim.goto(site.url + "/ui/login")
    victim.context.add_cookies([planted])
    victim.get_by_label("Name").fill("olga")
    victim.get_by_label("Password").fill(PASSWORD)
    victim.get_by_role("button", name="Log in").click()
    (mine,) = [c for c in victim.context.cookies() if c["name"] == "ingestd_session"]
    assert mine["value"] != planted["value"] and mine["httpOnly"] and mine["sameSite"] == "Strict"
    victim.goto(f"{site.url}/ui/quarantine/{held}")
    assert victim.get_by_role("button", name="Release").is_visible()
    attacker.goto(f"{site.url}/ui/quarantine/{held}")
    assert attacker.get_by_role("button", name="Release").count() == 0  # still vera's
    assert attacker.get_by_text("vera").first.is_visible()


def test_the_console_is_usable_with_the_keyboard(browser, site):
    from playwright.sync_api import expect  # the browser fixture has made sure it is there

    site.two_versions()
    held = site.held_deck()
    page = browser.new_context(bypass_csp=True).new_page()
    page.goto(site.url + "/ui/login")
    # the name field takes the focus by itself (autofocus), which Chromium gives at its next
    # rendering after the load: keys typed before then would go nowhere
    expect(page.get_by_label("Name")).to_be_focused()
    page.keyboard.type("olga")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(site.url + "/ui/")
    page.keyboard.press("Tab")  # the first stop is the link that skips to the content
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    table = "/ui/tables/acme/voice/default"
    for path in (
        "/ui/",
        "/ui/vendors",
        "/ui/vendors/acme",
        table,
        f"{table}/versions/2",
        f"{table}/versions/2/rows",
        f"{table}/diff?from=1&to=2",
        "/ui/quarantine",
        f"/ui/quarantine/{held}",
        "/ui/lookup?number=49",
        "/ui/outbox",
        "/ui/webhooks",
        "/ui/audit",
    ):
        page.goto(site.url + path)
        controls = page.locator("main select, main input:not([type=hidden]), main textarea")
        for control in controls.all():  # every control has a visible label
            assert control.evaluate("e => e.labels.length > 0 || !!e.getAttribute('aria-label')"), (
                path
            )
        for button in page.locator("button").all():  # every button is named by its verb
            assert button.inner_text().strip() in {
                "Log out",
                "Compare",
                "Filter",
                "Show",
                "Look up",
                "Release",
                "Drop",
                "Retry",
            }, (path, button.inner_text())
        assert page.locator("h1").count() == 1, path
