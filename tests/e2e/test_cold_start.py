"""A fresh server, as a workshop's first visitor meets it: the sidebar only ever lists the course's
titles (never Streamlit's automatic list of pages/ file names, not even for a moment), Home's title
shows while PyTorch is still loading, and a deep link as the very first request opens its page.

The sidebar is read inside the page on every DOM change and every 50 ms from first paint until the
page is idle (bench.probes). Screenshots at 1 s and 3 s after the health check answers go to
$CNNLAB_SCREENSHOTS, like the other e2e screenshots.
"""
import time
from pathlib import PurePosixPath
from urllib.parse import urlparse

import pytest

from bench import probes
from bench.app_server import AppServer, wait_until_idle
from core.navigation import PAGES
from tests.e2e.test_browser import SHOTS, assert_no_exception

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TITLES = {p.title for p in PAGES}
FILE_NAMES = {"Home"} | {PurePosixPath(p.script).stem.replace("_", " ") for p in PAGES if p.script}


def assert_only_course_titles(page) -> list[str]:
    """Every sidebar reading was a subset of the course titles, and the last one lists them all."""
    reads, samples = probes.sidebar_samples(page)
    assert reads > 10 and samples, f"the sidebar was read {reads} times and never had links"
    for s in samples:
        as_files = set(s["texts"]) & FILE_NAMES  # exact: "model explorer" is a file, "Model Explorer" a title
        assert not as_files, f"at {s['t']:.0f} ms the sidebar listed file names {sorted(as_files)}: {s['texts']}"
        assert set(s["texts"]) <= TITLES, f"at {s['t']:.0f} ms the sidebar read {s['texts']}"
    assert sorted(samples[-1]["texts"]) == sorted(TITLES)
    return samples[-1]["texts"]


def _shot_at(page, healthy_at: float, seconds: float, name: str) -> None:
    page.wait_for_timeout(max(0.0, healthy_at + seconds - time.perf_counter()) * 1000)
    page.screenshot(path=str(SHOTS / name))
    print(f"{name}: taken {time.perf_counter() - healthy_at:.2f} s after the health check answered")


def test_fresh_server_paints_the_course_sidebar_and_title_at_once(browser):  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    probes.install(page)
    with AppServer(poll_s=0.05) as server:
        page.goto(server.url, wait_until="commit")
        # Home's title and text come before the PyTorch import, with a status saying why the rest waits.
        page.get_by_text("Loading PyTorch").wait_for(timeout=60_000)
        assert page.locator("h1").first.inner_text().strip() == "CNN Lab"
        assert "convolutional neural network" in page.locator('[data-testid="stMain"]').inner_text()
        _shot_at(page, server.healthy_at, 1, "fresh-server-1s.png")
        _shot_at(page, server.healthy_at, 3, "fresh-server-3s.png")
        wait_until_idle(page)
        links = assert_only_course_titles(page)
        assert links == [p.title for p in PAGES], "the sidebar lists the pages in course order"
        assert page.get_by_text("Loading PyTorch").count() == 0
        assert_no_exception(page, "Home on a fresh server")
    page.close()


def test_deep_link_on_a_fresh_server_goes_through_the_router(browser):  # noqa: F811
    """The first request a new server gets is a deep link: it still gets Home.py's router and sidebar."""
    target = next(p for p in PAGES if p.script == "pages/convolution.py")
    page = browser.new_page()
    probes.install(page)
    with AppServer() as server:
        page.goto(f"{server.url}/{target.url_path}")
        wait_until_idle(page)
        assert_only_course_titles(page)
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert target.section in sidebar
        assert page.locator("h1").first.inner_text().strip() == "Convolution Playground"
        assert "Page not found" not in page.locator("body").inner_text()
        assert_no_exception(page, "a deep link on a fresh server")
        # The course sidebar's links work: open another page from it.
        other = next(p for p in PAGES if p.script == "pages/activations.py")
        page.locator('[data-testid="stSidebar"] a', has_text=other.title).click()
        wait_until_idle(page)
        assert urlparse(page.url).path.rstrip("/").endswith(other.url_path)  # the page's own settings follow in the query
        assert page.locator("h1").first.inner_text().strip() == "Activation Lab"
    page.close()
