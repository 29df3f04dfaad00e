"""Workshop figures (`python -m bench workshop`): a room of real Chromium sessions on one deployment.

workshop_p95_ratio      10 sessions (one Chromium, a context each) open the Convolution Playground and
                        move its Stride slider together, 1 -> 4 -> 1, twice (12 moves each, after a warm-up
                        pass that is not counted). A move is timed inside the page, from just before the key
                        press to the moment its output is on screen: the pictures changed, every picture
                        loaded, and no script run in progress. The figure is the p95 of CNN Lab's 120 moves
                        over the p95 of bench/trivial_app.py's (the same slider, a line and a small picture),
                        both under this harness in the same run, one server each. Goal <= 2. The p50 and p95
                        of both are printed too (workshop_*_s, workshop_trivial_*_s), and
workshop_server_cpu_ms  the CPU time CNN Lab's server process spent per counted move (user + system), which
                        does not depend on where the browsers run: here they share the server's cores.
replica_upload_ok       2 replicas behind nginx, started by deploy/workshop.py as `make workshop` does. 10
                        sessions open Home with the Upload source and each upload 2 photos of their own sizes
                        one after the other. An upload succeeds when its PUT is accepted (2xx) and the page
                        then shows that photo (its size in the caption) with no error. The figure is the share
                        that succeed; goal 1.0. replica_upload_ok_round_robin: one upload per session with
                        nginx's plain round robin instead of the cookie hash, what an unsticky proxy does to
                        the same room. What each failed upload met is printed to stderr.
"""
from __future__ import annotations

import io
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench.app_server import CHROMIUM, CHROMIUM_ARGS, AppServer, wait_until_idle

SESSIONS = 10
MOVES = ["ArrowRight"] * 3 + ["ArrowLeft"] * 3  # Stride 1 -> 4 -> 1
COUNTED_PASSES = 2
UPLOADS_PER_SESSION = 2
VIEWPORT = {"width": 1400, "height": 2400}  # tall, so every picture is in view and loads
WAIT_MS = 180_000  # generous: a loaded 2-core machine is slow, and slow is not failed

# In every page: window.__arm() notes the time and the pictures now shown; from then on each DOM change
# checks whether the output has arrived and, the first time it has, notes the time in window.__t1.
WATCH_OUTPUT = """
(() => {
  const pictures = () => [...document.querySelectorAll('[data-testid="stMain"] img')];
  const check = () => {
    if (window.__t0 === undefined || window.__t1 !== null) return;
    const imgs = pictures();
    if (imgs.map(i => i.src).join() === window.__before) return;
    if (!imgs.every(i => i.complete && i.naturalWidth > 0)) return;
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-script-state') === 'running') return;
    window.__t1 = performance.now();
  };
  window.__arm = () => { window.__before = pictures().map(i => i.src).join(); window.__t1 = null;
                         window.__t0 = performance.now(); };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, attributes: true});
  document.addEventListener('load', check, true);
  setInterval(check, 10);
})();
"""


def emit(name: str, value: float, unit: str) -> None:
    print(f"{name} {value:.3f} {unit}", flush=True)


def _cpu_seconds(pid: int) -> float:
    import psutil

    proc = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in [proc, *proc.children(recursive=True)])


def slider_move_seconds(browser, server: AppServer, path: str) -> tuple[list[float], float]:
    """SESSIONS pages move the Stride slider together: the seconds of every counted move, and the server's
    CPU seconds per counted move."""
    pages = []
    for _ in range(SESSIONS):
        context = browser.new_context(viewport=VIEWPORT)
        context.add_init_script(WATCH_OUTPUT)
        pages.append(context.new_page())
        pages[-1].goto(f"{server.url}{path}", wait_until="commit", timeout=WAIT_MS)
    for page in pages:
        wait_until_idle(page)
    sliders = [page.locator('input[type="range"][aria-label="Stride"]') for page in pages]
    seconds, cpu = [], 0.0
    for counted in [False] + [True] * COUNTED_PASSES:
        cpu_before = _cpu_seconds(server.proc.pid)
        for key in MOVES:
            for page, slider in zip(pages, sliders):
                page.evaluate("window.__arm()")
                slider.press(key)
            for page in pages:
                page.wait_for_function("window.__t1 !== null", timeout=WAIT_MS)
                if counted:
                    seconds.append(page.evaluate("(window.__t1 - window.__t0) / 1000"))
        cpu += (_cpu_seconds(server.proc.pid) - cpu_before) if counted else 0.0
    for page in pages:
        page.context.close()
    return seconds, cpu / len(seconds)


def slider_p95_ratio() -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        with AppServer(script="bench/trivial_app.py") as trivial:
            base, _ = slider_move_seconds(browser, trivial, "")
        with AppServer() as app:
            ours, cpu = slider_move_seconds(browser, app, "/convolution")
        browser.close()
    emit("workshop_p50_s", float(np.percentile(ours, 50)), "s")
    emit("workshop_p95_s", float(np.percentile(ours, 95)), "s")
    emit("workshop_trivial_p50_s", float(np.percentile(base, 50)), "s")
    emit("workshop_trivial_p95_s", float(np.percentile(base, 95)), "s")
    emit("workshop_p95_ratio", float(np.percentile(ours, 95) / np.percentile(base, 95)), "x_trivial")
    emit("workshop_server_cpu_ms", cpu * 1000, "ms")


def _photos(folder: Path) -> list[list[tuple[Path, str]]]:
    """UPLOADS_PER_SESSION JPEG photos per session, each of its own size, with the caption Home shows for it."""
    from PIL import Image
    from skimage import data

    astronaut = Image.fromarray(data.astronaut())
    photos = []
    for s in range(SESSIONS):
        mine = []
        for u in range(UPLOADS_PER_SESSION):
            w, h = 320 + 8 * s + 3 * u, 240 + 5 * s + 2 * u
            buf = io.BytesIO()
            astronaut.resize((w, h)).save(buf, "JPEG", quality=90)
            path = folder / f"session{s}-upload{u}.jpg"
            path.write_bytes(buf.getvalue())
            mine.append((path, f"Your photo, {w}x{h}"))
        photos.append(mine)
    return photos


def upload_outcomes(browser, url: str, photos: list[list[tuple[Path, str]]], wait_ms: int) -> list[str]:
    """Every session uploads its photos in turn: "ok" for each upload accepted and shown, else what went wrong."""
    from playwright.sync_api import Error as PlaywrightError

    pages, puts = [], []
    for _ in range(SESSIONS):
        page = browser.new_context(viewport=VIEWPORT).new_page()
        seen: list[int] = []
        page.on("response", lambda r, seen=seen: seen.append(r.status) if "/_stcore/upload_file/" in r.url
                and r.request.method == "PUT" else None)
        page.goto(f"{url}/?source=Upload", wait_until="commit", timeout=wait_ms)
        pages.append(page)
        puts.append(seen)
    up = []  # a session whose page never came up fails every upload
    for page in pages:
        try:
            wait_until_idle(page, timeout_ms=wait_ms)
            up.append(True)
        except PlaywrightError:
            up.append(False)
    outcomes = []
    for u in range(len(photos[0])):
        for i, page in enumerate(pages):
            if up[i]:
                page.locator('input[type="file"]').first.set_input_files(str(photos[i][u][0]))
        for i, page in enumerate(pages):
            outcomes.append(_upload_outcome(page, puts[i], u + 1, photos[i][u][1], wait_ms) if up[i]
                            else "page never came up")
    for page in pages:
        page.context.close()
    return outcomes


def _upload_outcome(page, puts: list[int], count: int, caption: str, wait_ms: int) -> str:
    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + wait_ms / 1000
    while len(puts) < count and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    if len(puts) < count:
        return "no upload request"
    if not 200 <= puts[count - 1] < 300:
        return f"upload answered {puts[count - 1]}"
    try:
        page.get_by_text(caption).wait_for(timeout=wait_ms)
        wait_until_idle(page, timeout_ms=wait_ms)
    except PlaywrightError:
        return "photo not shown"
    return "ok" if page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count() == 0 \
        else "error shown"


def replica_uploads() -> None:
    from playwright.sync_api import sync_playwright

    from deploy.workshop import Workshop, free_port

    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-uploads-") as tmp, sync_playwright() as pw:
        photos = _photos(Path(tmp))
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # The round-robin baseline is expected to fail, so it gets one upload per session and less patience.
        for sticky, name, mine, wait_ms in ((True, "replica_upload_ok", photos, WAIT_MS),
                                            (False, "replica_upload_ok_round_robin", [p[:1] for p in photos], 60_000)):
            with Workshop(replicas=2, port=free_port(), sticky=sticky) as w:
                outcomes = upload_outcomes(browser, w.url, mine, wait_ms)
            emit(name, outcomes.count("ok") / len(outcomes), "fraction")
            print(f"# {name}: {dict(Counter(outcomes))}", file=sys.stderr, flush=True)
        browser.close()
