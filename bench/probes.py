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

# True once the script has stopped, every widget has loaded and every image has been decoded.
_DRAWN = """(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid="stSkeleton"]')
    && Array.from(document.images).every(i => i.complete);
})()"""


def install(page) -> None:
    """Add both probes to a page before it loads anything."""
    page.add_init_script(SIDEBAR_SAMPLER)
    page.add_init_script(RERUN_CLOCK)


def sidebar_samples(page) -> tuple[int, list[dict]]:
    """(how many times the sidebar was read, each distinct list of link texts seen, in order)."""
    return page.evaluate("[window.__sidebarReads, window.__sidebar]")


def now_ms(page) -> float:
    return page.evaluate("performance.now()")


def timed_rerun(page, act, shown_js: str = "true", wait_script: bool = True, quiet_ms: int = 300,
                timeout_ms: int = 120_000) -> float:
    """Milliseconds from ``act()`` (a widget change) until the rerun it started has ended, the browser has
    drawn it (widgets loaded, images decoded) and ``shown_js`` holds; a rerun that follows within
    ``quiet_ms`` (an st.rerun, say) is waited for and counted too. With ``wait_script=False``: until
    ``shown_js`` first holds after a rerun began, however much of the script is still to run (the
    start is kept in window.__t0)."""
    t0, seen = page.evaluate("[window.__t0 = performance.now(), window.__runs.length]")
    act()
    while True:
        drawn = f"{_DRAWN} && " if wait_script else ""
        predicate = (f"() => window.__runs.length > {seen} && {drawn}({shown_js})"
                     " ? (window.__shownAt = performance.now()) : false")
        end = page.wait_for_function(predicate, timeout=timeout_ms, polling="raf").json_value()
        if not wait_script:
            return end - t0
        seen = page.evaluate("window.__runs.length")
        page.wait_for_timeout(quiet_ms)
        if page.evaluate(f"window.__runs.length === {seen} && {_DRAWN}"):
            return end - t0


def last_stop_ms(page) -> float:
    """Milliseconds from the last timed_rerun's start to the last time the script stopped since."""
    return page.evaluate("Math.max(...window.__runs.filter(r => r.state === 'notRunning').map(r => r.t))"
                         " - window.__t0")
