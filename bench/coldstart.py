"""`python -m bench coldstart`: a fresh server as a workshop meets it, in real chromium, and the
Interpretability page's class switch side by side with torchcam's Streamlit demo.

Fresh server (offline, an empty torch hub cache: Home opens on the shipped models):
  first_paint_s               server start -> Home's title and the whole course sidebar visible
  first_paint_after_health_s  the same, from when the health check first answered
  home_first_render_s         server start -> Home's first run ended (last script stop, in the page's clock)
  rss_idle_mb                 server RSS (with children) once healthy, no session yet
  rss_home_mb, rss_after_<page>_mb  after Home, then after each page opened once by its sidebar link
  rss_after_tour_mb           after every page was opened once
  page_first_open_s           median over the pages of that first open (sidebar click -> drawn)
  page_switch_s               median over every page of a second, warm open (sidebar click -> rerun ended,
                              widgets loaded, images decoded); page_switch_max_s the slowest
  rss_per_session_mb          (RSS with 10 more tabs on Home - RSS before) / 10

Class switch (both servers up at once, ResNet-18 from one fabricated checkpoint in a temp TORCH_HOME, the
same cat photo, Grad-CAM at layer4, trials interleaved):
  cam_class_switch_ms         Interpretability page: pick another of the top-5 classes -> its overlay
                              (caption names the class, image decoded), median of the 4 others
  cam_class_switch_full_ms    the same until that whole rerun has ended (grid, faithfulness, ...)
  cam_class_switch_other_ms   the same for 4 classes outside the top-5 (maps not made ahead)
  demo_compute_cam_ms         torchcam demo: click "Compute CAM" for each of those 8 classes -> its
                              overlay, median
  cam_switch_vs_demo          cam_class_switch_ms / demo_compute_cam_ms (goal <= 0.5)
  cam_switch_other_vs_demo    cam_class_switch_other_ms / demo_compute_cam_ms

The demo is torch-cam's demo/app.py; nothing of it is kept in this repository. Give its path in
$TORCHCAM_DEMO (a checkout of github.com/frgfm/torch-cam); without it the class-switch figures are skipped.
"""
from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench import probes
from bench.app_server import CHROMIUM, CHROMIUM_ARGS, AppServer, wait_until_idle

SESSIONS = 10
TOP_OTHERS = 4  # the top-5 classes besides the one shown first
WAIT_MS = 900_000  # generous: on a shared, loaded 2-core machine a cold page can take minutes
SIDEBAR_LINK = '[data-testid="stSidebar"] a'


def _rss_mb(pid: int) -> float:
    import psutil

    proc = psutil.Process(pid)
    return (proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))) / 2**20


def _first_paint_js(titles: list[str]) -> str:
    return f"""() => {{
      const h1 = document.querySelector('[data-testid="stMain"] h1');
      if (!h1 || !h1.textContent.includes('CNN Lab') || !h1.getBoundingClientRect().height) return false;
      const seen = new Set(Array.from(document.querySelectorAll('{SIDEBAR_LINK}'), a => {{
        const c = a.cloneNode(true);
        c.querySelectorAll('[data-testid="stIconMaterial"]').forEach(i => i.remove());
        return c.textContent.trim();
      }}));
      return {titles!r}.every(t => seen.has(t));
    }}"""


def _open_by_sidebar(page, title: str) -> float:
    """Seconds from clicking a sidebar link until the page it opens has been drawn."""
    link = page.locator(SIDEBAR_LINK, has_text=title).first
    return probes.timed_rerun(page, link.click, timeout_ms=WAIT_MS) / 1000


def fresh_server(chromium, emit) -> None:
    from core.navigation import PAGES

    titles = [p.title for p in PAGES]
    hub = tempfile.mkdtemp(prefix="cnnlab-bench-hub-")  # no ImageNet weights: Home opens on the shipped models
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    probes.install(page)
    try:
        with AppServer(env={"TORCH_HOME": hub}, timeout_s=600, poll_s=0.05) as server:
            emit("rss_idle_mb", _rss_mb(server.proc.pid), "MB")
            page.goto(server.url, wait_until="commit")
            page.wait_for_function(_first_paint_js(titles), polling="raf", timeout=WAIT_MS)
            painted = time.perf_counter()
            emit("first_paint_s", painted - server.started_at, "s")
            emit("first_paint_after_health_s", painted - server.healthy_at, "s")
            offset = time.perf_counter() - probes.now_ms(page) / 1000  # page clock -> perf_counter
            wait_until_idle(page, WAIT_MS)
            stops = [r["t"] for r in page.evaluate("window.__runs") if r["state"] == "notRunning"]
            emit("home_first_render_s", stops[-1] / 1000 + offset - server.started_at, "s")
            emit("rss_home_mb", _rss_mb(server.proc.pid), "MB")
            first = []
            for spec in PAGES[1:]:
                first.append(_open_by_sidebar(page, spec.title))
                emit(f"rss_after_{spec.url_path}_mb", _rss_mb(server.proc.pid), "MB")
            emit("rss_after_tour_mb", _rss_mb(server.proc.pid), "MB")
            emit("page_first_open_s", statistics.median(first), "s")
            warm = [_open_by_sidebar(page, spec.title) for spec in PAGES]
            emit("page_switch_s", statistics.median(warm), "s")
            emit("page_switch_max_s", max(warm), "s")
            before = _rss_mb(server.proc.pid)
            tabs = []
            for _ in range(SESSIONS):
                tab = chromium.new_page(viewport={"width": 1400, "height": 1000})
                tab.set_default_timeout(WAIT_MS)
                tab.goto(server.url)
                wait_until_idle(tab, WAIT_MS)
                tabs.append(tab)
            emit("rss_per_session_mb", (_rss_mb(server.proc.pid) - before) / SESSIONS, "MB")
            for tab in tabs:
                tab.close()
    finally:
        page.close()
        shutil.rmtree(hub, ignore_errors=True)


# ---------------------------------------------------------------- the class switch, against torchcam's demo
def _fabricated_hub() -> str:
    """A TORCH_HOME whose hub cache holds a ResNet-18 checkpoint under torchvision's file name (random
    weights: the timing does not depend on what the weights are)."""
    import torch
    import torchvision

    hub = tempfile.mkdtemp(prefix="cnnlab-bench-cam-")
    (Path(hub) / "hub" / "checkpoints").mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), Path(hub) / "hub" / "checkpoints" / "resnet18-f37072fd.pth")
    return hub


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in a selectbox. Its list is virtualised (only the rows in view exist), so the
    option's name is typed first to bring it into the list."""
    page.get_by_label(label).click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).click()


def _overlay_shown(caption: str) -> str:
    """JS: an image whose caption contains ``caption`` is on the page and decoded."""
    return f"""Array.from(document.querySelectorAll('[data-testid="stImageContainer"]')).some(c =>
        c.textContent.includes({caption!r}) && Array.from(c.querySelectorAll('img')).every(i => i.complete
        && i.naturalWidth > 0))"""


def _demo_overlay_shown(name: str) -> str:
    return f"""Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"]')).some(c =>
        c.textContent.includes(' · ' + {name!r} + ' (')) && document.querySelectorAll('[data-testid="stImage"] img')
        .length >= 3 && Array.from(document.images).every(i => i.complete)"""


def class_switch(chromium, emit) -> None:
    demo_src = os.environ.get("TORCHCAM_DEMO")
    if not demo_src or not (Path(demo_src) / "demo" / "app.py").exists():
        print("# cam_class_switch: set TORCHCAM_DEMO to a torch-cam checkout to compare with its demo", flush=True)
        return
    from core.images import sample_photo
    from core.viz import png_bytes

    hub = _fabricated_hub()
    demo_dir = Path(tempfile.mkdtemp(prefix="cnnlab-bench-demo-"))
    shutil.copy(Path(demo_src) / "demo" / "app.py", demo_dir / "app.py")
    photo = demo_dir / "chelsea.png"
    photo.write_bytes(png_bytes(sample_photo("Cat (chelsea)")))
    env = {"TORCH_HOME": hub}
    ours, demo = chromium.new_page(viewport={"width": 1400, "height": 1600}), chromium.new_page(
        viewport={"width": 1400, "height": 1000})
    for tab in (ours, demo):
        tab.set_default_timeout(WAIT_MS)
        probes.install(tab)
    try:
        with AppServer(env=env, timeout_s=600) as app, \
                AppServer(env=env, timeout_s=600, script="app.py", cwd=demo_dir) as cam_demo:
            ours.goto(f"{app.url}/interpretability?photo=Cat+(chelsea)&model=resnet18&method=Grad-CAM")
            wait_until_idle(ours, WAIT_MS)
            demo.goto(cam_demo.url)
            wait_until_idle(demo, WAIT_MS)
            demo.locator('input[type="file"]').set_input_files(str(photo))
            wait_until_idle(demo, WAIT_MS)
            _pick(demo, "CAM method", "GradCAM")
            wait_until_idle(demo, WAIT_MS)
            demo.get_by_text("Choose a class").click()
            wait_until_idle(demo, WAIT_MS)
            # Our list puts the top-5 first: the 4 not shown yet, then 4 classes outside it.
            ours.get_by_label("Target class (top-5 listed first)").click()
            options = ours.get_by_role("option").all_inner_texts()[1:2 * TOP_OTHERS + 1]
            ours.keyboard.press("Escape")
            wait_until_idle(ours, WAIT_MS)
            _pick(demo, "ImageNet class", options[-1].rsplit(" (", 1)[0])  # warm-up: loads the demo's model
            wait_until_idle(demo, WAIT_MS)
            demo.get_by_role("button", name="Compute CAM").click()
            wait_until_idle(demo, WAIT_MS)
            switch, full, computes = [], [], []
            for option in options:
                name = option.rsplit(" (", 1)[0]
                ours.get_by_label("Target class (top-5 listed first)").click()
                pick = ours.get_by_role("option", name=option, exact=True)
                caption = f"Grad-CAM for '{name}'"
                switch.append(probes.timed_rerun(ours, pick.click, _overlay_shown(caption), wait_script=False,
                                                 timeout_ms=WAIT_MS))
                wait_until_idle(ours, WAIT_MS)
                full.append(probes.last_stop_ms(ours))
                _pick(demo, "ImageNet class", name)
                wait_until_idle(demo, WAIT_MS)
                computes.append(probes.timed_rerun(demo, demo.get_by_role("button", name="Compute CAM").click,
                                                   _demo_overlay_shown(name), wait_script=False,
                                                   timeout_ms=WAIT_MS))
                wait_until_idle(demo, WAIT_MS)
        top, other, demo_ms = statistics.median(switch[:TOP_OTHERS]), statistics.median(switch[TOP_OTHERS:]), \
            statistics.median(computes)
        emit("cam_class_switch_ms", top, "ms")
        emit("cam_class_switch_full_ms", statistics.median(full[:TOP_OTHERS]), "ms")
        emit("cam_class_switch_other_ms", other, "ms")
        emit("demo_compute_cam_ms", demo_ms, "ms")
        emit("cam_switch_vs_demo", top / demo_ms, "ratio")
        emit("cam_switch_other_vs_demo", other / demo_ms, "ratio")
    finally:
        ours.close()
        demo.close()
        shutil.rmtree(hub, ignore_errors=True)
        shutil.rmtree(demo_dir, ignore_errors=True)


def run(emit) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            emit("load_avg_1m", os.getloadavg()[0], "load")  # this machine is shared: context for the times
            fresh_server(chromium, emit)
            class_switch(chromium, emit)
            emit("load_avg_1m", os.getloadavg()[0], "load")
        finally:
            chromium.close()
