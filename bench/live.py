"""Live-update figures as a user gets them: in real chromium against the real app, a slider inside a
page's st.fragment is moved one step (keyboard), and the time runs until that fragment's rerun has ended
and the browser has drawn it (widgets loaded, images decoded). So each figure holds everything the
fragment computes and draws, plus Streamlit's round trip; the compute-only figures are beside them in
bench/__main__.py under *_compute_ms names. Beside each, *_server_cpu_ms: the server's CPU time per move, all
its threads (PyTorch's OpenMP workers too), which is what a room of sessions shares."""
from __future__ import annotations

import statistics
from collections.abc import Callable

from bench import probes
from bench.app_server import CHROMIUM, CHROMIUM_ARGS, AppServer, wait_until_idle

STEPS = 11  # the first move warms up; the median is over the other ten
WAIT_MS = 900_000  # generous: on a shared, loaded 2-core machine a cold page can take minutes


def slider_update_ms(page, slider: str, steps: int = STEPS, server_pid: int | None = None) -> tuple[float, float]:
    """Median ms of one step of the slider labelled ``slider``, alternately up and down, and the server
    process's CPU time (all its threads, user + system) per counted step (nan without ``server_pid``)."""
    import psutil

    thumb = page.locator('[data-testid="stSlider"]', has_text=slider).get_by_role("slider").first
    server = psutil.Process(server_pid) if server_pid else None
    times, cpu_start = [], 0.0
    for i in range(steps):
        if i == 1 and server:  # after the warm-up step
            cpu_start = sum(server.cpu_times()[:2])
        key = "ArrowRight" if i % 2 == 0 else "ArrowLeft"
        times.append(probes.timed_rerun(page, lambda: thumb.press(key), timeout_ms=WAIT_MS))
    cpu_ms = (sum(server.cpu_times()[:2]) - cpu_start) * 1000 / (steps - 1) if server else float("nan")
    return statistics.median(times[1:]), cpu_ms


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
            wall, cpu = slider_update_ms(page, slider, server_pid=server.proc.pid)
            emit(name, wall, "ms")
            emit(f"{name.removesuffix('_ms')}_server_cpu_ms", cpu, "ms")
        chromium.close()
