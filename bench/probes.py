"""In-page probes for browser tests and benchmarks: what the sidebar showed from first paint on, and how
long a rerun (a whole page's or one fragment's) took from the widget change until the browser drew it.

Both run inside the page (installed with ``page.add_init_script`` before the first request), so they see
every DOM change, not only the moments Playwright happens to poll.
"""
from __future__ import annotations

# Every change to the sidebar's links, plus a sample every 50 ms, as [{t, texts}] in window.__sidebar.
# A link's text is its label: Material icons render as ligature text, so icon elements are left out.
SIDEBAR_SAMPLER = """
(() => {
  window.__sidebar = [];
  window.__sidebarReads = 0;
  const read = () => {
    window.__sidebarReads += 1;
    const links = document.querySelectorAll('[data-testid="stSidebar"] a, [data-testid="stSidebarNav"] a');
    if (!links.length) return;
    const texts = Array.from(links, a => {
      const c = a.cloneNode(true);
      c.querySelectorAll('[data-testid="stIconMaterial"], [data-testid="stIconEmoji"]').forEach(i => i.remove());
      return c.textContent.trim();
    });
    const last = window.__sidebar[window.__sidebar.length - 1];
    if (!last || last.texts.join('|') !== texts.join('|')) window.__sidebar.push({t: performance.now(), texts});
  };
  new MutationObserver(read).observe(document, {subtree: true, childList: true, characterData: true});
  setInterval(read, 50);
})();
"""

# Every change of Streamlit's script state (running, notRunning, ...) as [{t, state}] in window.__runs.
RERUN_CLOCK = """
(() => {
  window.__runs = [];
  new MutationObserver(records => {
    for (const r of records) {
      if (r.target.getAttribute && r.target.dataset.testid === 'stApp')
        window.__runs.push({t: performance.now(), state: r.target.getAttribute('data-test-script-state')});
    }
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
})();
"""

# Every run the server reports finished, as [{t, status}] in window.__finished: the ForwardMsg's
# script_finished field (number 6, an enum: 0 whole run, 3 fragment run) read off the websocket. A rerun
# that ends within one frame never flips the app's data-test-script-state, so the attribute alone can
# miss it; the server's own message cannot.
FINISH_CLOCK = """
(() => {
  window.__finished = [];
  const varint = (b, i) => { let v = 0, m = 1, x;
    do { x = b[i++]; v += (x & 127) * m; m *= 128; } while (x & 128); return [v, i]; };
  const finished = (buf) => {
    const b = new Uint8Array(buf); let i = 0;
    while (i < b.length) {
      let key, len; [key, i] = varint(b, i);
      const field = Math.floor(key / 8), type = key & 7;
      if (type === 0) { let v; [v, i] = varint(b, i); if (field === 6) return v; }
      else if (type === 2) { [len, i] = varint(b, i); i += len; }
      else if (type === 1) i += 8; else if (type === 5) i += 4; else return null;
    }
    return null;
  };
  const Native = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', e => {
      if (!(e.data instanceof ArrayBuffer)) return;
      const status = finished(e.data);
      if (status !== null) window.__finished.push({t: performance.now(), status});
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();
"""

# True once the script has stopped, every widget has loaded and every image has been decoded.
_DRAWN = """(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid="stSkeleton"]')
    && Array.from(document.images).every(i => i.complete);
})()"""


def install(page) -> None:
    """Add the probes to a page before it loads anything."""
    page.add_init_script(SIDEBAR_SAMPLER)
    page.add_init_script(RERUN_CLOCK)
    page.add_init_script(FINISH_CLOCK)


def sidebar_samples(page) -> tuple[int, list[dict]]:
    """(how many times the sidebar was read, each distinct list of link texts seen, in order)."""
    return page.evaluate("[window.__sidebarReads, window.__sidebar]")


def now_ms(page) -> float:
    return page.evaluate("performance.now()")


def timed_rerun(page, act, shown_js: str = "true", wait_script: bool = True, quiet_ms: int = 300,
                timeout_ms: int = 120_000) -> float:
    """Milliseconds from ``act()`` (a widget change) until the server has reported the rerun it started
    finished, the browser has drawn it (widgets loaded, images decoded) and ``shown_js`` holds; a rerun
    that follows within ``quiet_ms`` (an st.rerun, say) is waited for and counted too. With
    ``wait_script=False``: until ``shown_js`` first holds after a rerun began, however much of the script
    is still to run (the start is kept in window.__t0)."""
    t0, runs, done = page.evaluate("[window.__t0 = performance.now(), window.__runs.length,"
                                   " window.__finished.length]")
    act()
    if not wait_script:
        predicate = (f"() => window.__runs.length > {runs} && ({shown_js})"
                     " ? (window.__shownAt = performance.now()) : false")
        return page.wait_for_function(predicate, timeout=timeout_ms, polling="raf").json_value() - t0
    while True:
        predicate = (f"() => window.__finished.length > {done} && {_DRAWN} && ({shown_js})"
                     " ? (window.__shownAt = performance.now()) : false")
        end = page.wait_for_function(predicate, timeout=timeout_ms, polling="raf").json_value()
        done = page.evaluate("window.__finished.length")
        page.wait_for_timeout(quiet_ms)
        if page.evaluate(f"window.__finished.length === {done} && {_DRAWN}"):
            return end - t0


def last_stop_ms(page) -> float:
    """Milliseconds from the last timed_rerun's start to the last time the script stopped since."""
    return page.evaluate("Math.max(...window.__runs.filter(r => r.state === 'notRunning').map(r => r.t))"
                         " - window.__t0")
