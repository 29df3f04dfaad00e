"""Shared AppTest helpers for the page tests."""
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def open_page(page: str | None = None, timeout: float = 120, **query) -> AppTest:
    """Open Home, or a page the way a shared link does: Home's router runs first, then the page
    with the link's parameters (a browser drops the previous page's parameters on a page switch)."""
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=timeout)
    if page is None:
        at.query_params.update(query)
        return at.run()
    at.run()
    at.query_params.clear()
    at.query_params.update(query)
    return at.switch_page(page).run()


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def captions(at: AppTest) -> list[str]:
    """Every image caption on the page, in order."""
    return [c for img in at.image for c in img.captions]


def link_warns_and_falls_back(page: str, query: dict, message: str) -> AppTest:
    """Open a page from a link with a bad value: no exception or error, a warning naming the problem."""
    at = open_page(page, **query)
    assert not at.exception and not at.error
    assert any(message in w for w in texts(at.warning))
    return at


def upload_photo(at: AppTest, prefix: str, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    """Switch a page's image picker (widget keys `<prefix>_...`) to Upload and upload a file."""
    at.segmented_control(key=f"{prefix}_source").set_value("Upload").run()
    at.file_uploader(key=f"{prefix}_upload").upload(name, data, mime)
    return at.run()


def train_tiny_run(timeout: float = 120):
    """Train a 2-epoch SimpleCNN on 300 shapes on the Training page and wait for it: (AppTest, run)."""
    at = open_page("pages/training.py", n="300", epochs="2")
    at.button(key="tr_start").click().run()
    run = at.session_state["tr_runs"][-1]
    assert run.join(timeout=timeout)
    return at, run
