"""Live-update figures as a user gets them: in real chromium against the real app, a slider inside a
page's st.fragment is moved one step (keyboard), and the time runs until that fragment's rerun has ended
and the browser has drawn it (widgets loaded, images decoded). So each figure holds everything the
fragment computes and draws, plus Streamlit's round trip; the compute-only figures are beside them in
bench/__main__.py under *_compute_ms names."""
from __future__ import annotations

import statistics
from collections.abc import Callable

from bench import probes
from bench.app_server import CHROMIUM, CHROMIUM_ARGS, AppServer, wait_until_idle

STEPS = 11  # the first move warms up; the median is over the other ten
WAIT_MS = 900_000  # generous: on a shared, loaded 2-core machine a cold page can take minutes


def slider_update_ms(page, slider: str, steps: int = STEPS) -> float:
    """Median ms of one step of the slider labelled ``slider``, alternately up and down."""
    thumb = page.locator('[data-testid="stSlider"]', has_text=slider).get_by_role("slider").first
    times = []
    for i in range(steps):
        key = "ArrowRight" if i % 2 == 0 else "ArrowLeft"
        times.append(probes.timed_rerun(page, lambda: thumb.press(key), timeout_ms=WAIT_MS))
    return statistics.median(times[1:])


# (figure, page path with the link's query, slider label)
UPDATES = {
    "conv_update_ms": ("convolution?photo=Astronaut", "Stride"),
    "activation_update_ms": ("activations", "Leaky ReLU slope a"),
    "mri_slice_ms": ("mri_viewer", "Axial (z)"),
    "tcn_update_ms": ("specialized", "Layers"),
}


def measure(names: list[str], emit: Callable[[str, float, str], None]) -> None:
    """Emit the named UPDATES figures, all from one server and one browser page."""
    from playwright.sync_api import sync_playwright

    with AppServer(timeout_s=600) as server, sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(WAIT_MS)
        probes.install(page)
        for name in names:
            path, slider = UPDATES[name]
            page.goto(f"{server.url}/{path}")
            wait_until_idle(page, WAIT_MS)
            emit(name, slider_update_ms(page, slider), "ms")
        chromium.close()
