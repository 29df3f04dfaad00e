"""Shared AppTest helpers for the page tests."""
from contextlib import contextmanager

from streamlit import config
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


# ---------------------------------------------------------------- sweeps over odd inputs
class SharedPages:
    """One opened AppTest per (page, link) for a whole test module: a sweep uploads its files one
    after another into the same page, as a user would, instead of reopening it for every case."""

    def __init__(self):
        self._open: dict[tuple, AppTest] = {}

    def __call__(self, page: str | None = None, **query) -> AppTest:
        key = (page, tuple(sorted(query.items())))
        if key not in self._open:
            self._open[key] = open_page(page, **query)
        return self._open[key]


def upload_file(at: AppTest, key: str, name: str, data: bytes, mime: str = "application/octet-stream") -> AppTest:
    """Put a file into the uploader with this key and rerun."""
    at.file_uploader(key=key).upload(name, data, mime)
    return at.run()


def screen_text(at: AppTest) -> str:
    """Everything a reader sees as text (messages, markdown, captions, formulas, code, metric labels), one per line."""
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "latex", "code", "info",
                                  "success", "warning", "error") for e in getattr(at, kind)]
    return "\n".join([*map(str, parts), *captions(at), *(m.label for m in at.metric)])


@contextmanager
def error_details():
    """Exceptions keep their message and stack inside AppTest (the app's config redacts them, as a
    deployment should), so a failing sweep case names what broke."""
    old = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")
    try:
        yield
    finally:
        config.set_option("client.showErrorDetails", old)


def no_traceback(at: AppTest) -> None:
    """Fail with the exception's message (not just 'assert not [...]') when the page raised."""
    assert not at.exception, "; ".join(f"{e.message} (at {_where(e.stack_trace)})" for e in at.exception)


def _where(stack: list[str]) -> str:
    """The last line of the stack that is the project's own code."""
    ours = [line.strip() for line in stack if "/site-packages/" not in line and "File " in line]
    return ours[-1] if ours else "?"


def works_or_explains(at: AppTest, drawn: str) -> None:
    """No traceback, and either the page used the input (`drawn` is on screen) or an error or warning
    says what was wrong with it."""
    no_traceback(at)
    messages = texts(at.error) + texts(at.warning)
    crashed = [m for m in messages if m.startswith(("The job failed:", "Training failed:"))]
    assert not crashed, crashed  # a background job's exception, caught and shown as a message
    assert drawn in screen_text(at) or messages, f"neither {drawn!r} nor a message is shown"


def drive_to_ends(at: AppTest, prefixes) -> list[str]:
    """Move every slider and number input whose key starts with one of these prefixes to its minimum
    and then its maximum, rerunning each time and checking for a traceback. Returns the keys moved."""
    widgets = lambda: (*at.slider, *at.number_input)  # noqa: E731 (fresh after every run)
    keys = [w.key for w in widgets() if w.key and w.key.startswith(tuple(prefixes))]
    for key in keys:
        for end in ("min", "max"):
            widget = next((w for w in widgets() if w.key == key), None)
            if widget is None:  # the first move removed it (a rerun drew the page differently)
                break
            widget.set_value(getattr(widget, end)).run()
            no_traceback(at)
    return keys
