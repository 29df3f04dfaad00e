"""Real browser (Playwright + Debian chromium) against `streamlit run Home.py`.

Opens every page in core.navigation, waits for its script to finish, and fails on any exception
box. Screenshots go to $CNNLAB_SCREENSHOTS (default: a temp dir) for a human to look at. The fresh-server
checks (sidebar from first paint on, deep link as the first request) are in test_cold_start.py.
"""
import os
import tempfile
from pathlib import Path

import pytest

from bench.app_server import AppServer, wait_until_idle
from core.navigation import PAGES
from tests.inputs.images import BAD_IMAGES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SHOTS = Path(os.environ.get("CNNLAB_SCREENSHOTS") or tempfile.mkdtemp(prefix="cnnlab-shots-"))


@pytest.fixture(scope="module")
def browser_page(browser):
    with AppServer() as server:
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        page.server_url = server.url
        yield page
        page.close()


def assert_no_exception(page, where: str):
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, f"exception on {where}: {boxes.first.inner_text()[:2000]}"


@pytest.mark.parametrize("spec", PAGES, ids=[p.url_path or "home" for p in PAGES])
def test_every_page_opens_without_exception(browser_page, spec):
    page = browser_page
    page.goto(f"{page.server_url}/{spec.url_path}")
    wait_until_idle(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{spec.url_path or 'home'}.png"), full_page=True)
    assert_no_exception(page, spec.title)
    assert "Page not found" not in page.locator("body").inner_text(), "direct link did not resolve"
    assert page.locator('[data-testid="stMain"]').inner_text().strip(), "page rendered nothing"


def test_home_bad_upload_shows_error_not_traceback(browser_page, tmp_path):
    page = browser_page
    page.goto(f"{page.server_url}/?source=Upload")
    wait_until_idle(page)
    _, make, message = next(c for c in BAD_IMAGES if c[0] == "truncated-jpeg")
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(make())
    page.locator('input[type="file"]').first.set_input_files(str(bad))
    page.wait_for_selector('[data-testid="stAlertContentError"]', timeout=60_000)
    wait_until_idle(page)
    assert message in page.locator('[data-testid="stAlertContentError"]').first.inner_text()
    page.screenshot(path=str(SHOTS / "home-bad-upload.png"), full_page=True)
    assert_no_exception(page, "Home after a bad upload")
    # The app keeps working: switch back to a sample photo and the viewer renders again.
    page.get_by_role("radio", name="Sample photo").click()
    wait_until_idle(page)
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    assert_no_exception(page, "Home after recovering")


def test_home_untrained_model_warning_is_visible(browser_page):
    page = browser_page
    page.goto(f"{page.server_url}/?model=resnet18")
    wait_until_idle(page)
    assert "random weights" in page.locator('[data-testid="stAlertContentWarning"]').first.inner_text()
    assert_no_exception(page, "Home with ResNet-18")


def test_training_run_updates_live_and_finishes(browser_page):
    """Start a short run in the browser: the live view refreshes by itself while the thread trains,
    and the page switches to the timeline and diagnosis when it ends."""
    page = browser_page
    page.goto(f"{page.server_url}/training?n=1500&epochs=6")
    wait_until_idle(page)
    page.get_by_role("button", name="Start training").click()
    progress = page.locator('[data-testid="stProgress"]').first
    progress.wait_for(timeout=60_000)
    seen = set()
    finished = page.get_by_text("Finished all 6 epochs")
    for _ in range(600):  # up to 120 s
        if finished.count():
            break
        seen.add(progress.inner_text())
        page.wait_for_timeout(200)
    wait_until_idle(page)
    assert finished.count() == 1
    assert len(seen) >= 3, f"the live view did not refresh while training: {seen}"
    assert page.get_by_text("3. Timeline").count() == 1 and page.get_by_text("4. Diagnosis").count() == 1
    page.screenshot(path=str(SHOTS / "training-finished.png"), full_page=True)
    assert_no_exception(page, "Training Monitor after a run")
