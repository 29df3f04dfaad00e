"""Two replicas behind nginx (deploy/workshop.py, the launcher `make workshop` runs), four browsers.

Each browser session starts a short training run, switches to Home, uploads a photo there and comes
back to the Training Monitor: no exception box, every upload accepted (2xx) by the replica that holds
the session, and the run still listed (the session was not lost). Then one replica is stopped. Its
browsers show Streamlit's connection-lost state and reconnect through nginx; after a reload they run
on the other replica as new sessions, and an upload works there. The other browsers never lose their
connection, keep their runs, and upload again.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.app_server import wait_until_idle
from deploy.workshop import Workshop, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
NGINX = Path("/usr/sbin/nginx")
PER_REPLICA = 2
# Every change of Streamlit's connection state, recorded in the page from its first script on.
RECORD_CONNECTION = """
window.__states = [];
new MutationObserver(records => {
  for (const r of records) window.__states.push(r.target.getAttribute('data-test-connection-state'));
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-connection-state']});
"""


@dataclass
class Session:
    context: object
    replica: str  # the replica's host:port, as nginx reports it
    page: object = None
    uploads: list[tuple[int | str, str]] = field(default_factory=list)  # ("ok" or status, replica) per upload PUT

    def route(self) -> str:
        return next(c["value"] for c in self.context.cookies() if c["name"] == "cnnlab_route")

    def served_by(self, url: str) -> str:
        """The replica that answered; nginx lists the ones it tried first (a stopped one) before it."""
        return self.context.request.get(f"{url}/_stcore/health").headers["x-cnnlab-replica"].split(", ")[-1]


@pytest.fixture(scope="module")
def workshop():
    if not NGINX.exists():
        pytest.skip("needs Debian's nginx at /usr/sbin/nginx (apt-get install -y nginx; `make test` installs it)")
    with Workshop(replicas=2, port=free_port()) as w:
        yield w


def open_sessions(browser, w: Workshop) -> dict[str, list[Session]]:
    """Fresh browser contexts (each its own cookie jar) until every replica holds PER_REPLICA of them.
    nginx places a browser by the random cookie it sets on the first request, so draw until it fits."""
    by_replica: dict[str, list[Session]] = {f"127.0.0.1:{p}": [] for p in w.replica_ports}
    for _ in range(60):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(120_000)  # four sessions and two replicas share two cores
        session = Session(context, "")
        session.replica = session.served_by(w.url)
        cookie = [c["name"] for c in context.cookies()]
        assert "cnnlab_route" in cookie, f"nginx set no routing cookie: {cookie}"
        if len(by_replica[session.replica]) < PER_REPLICA:
            by_replica[session.replica].append(session)
        else:
            context.close()
        if all(len(s) == PER_REPLICA for s in by_replica.values()):
            break
    assert all(len(s) == PER_REPLICA for s in by_replica.values()), {k: len(v) for k, v in by_replica.items()}
    for sessions in by_replica.values():
        for s in sessions:
            s.context.add_init_script(RECORD_CONNECTION)
            s.page = s.context.new_page()
            s.page.on("response", lambda r, s=s: record_upload(s, r))
    return by_replica


def record_upload(s: Session, response) -> None:
    if "/_stcore/upload_file/" in response.url and response.request.method == "PUT":
        s.uploads.append(("ok" if response.ok else response.status, response.headers.get("x-cnnlab-replica")))


def assert_clean(s: Session, where: str) -> None:
    boxes = s.page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, f"exception on {where}: {boxes.first.inner_text()[:2000]}"
    errors = s.page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, f"error on {where}: {errors.first.inner_text()}"


def nav(sessions: list[Session], title: str) -> None:
    """Switch page through the sidebar (the same session, unlike page.goto)."""
    for s in sessions:
        s.page.locator('[data-testid="stSidebar"] a', has_text=title).click()
    for s in sessions:
        wait_until_idle(s.page)
        assert_clean(s, title)


def upload_on_home(sessions: list[Session], photos: dict[int, tuple[Path, str]]) -> None:
    """Home's image picker, Upload source: the photo's own size must come back in the viewer's caption."""
    nav(sessions, "CNN vision")
    for s in sessions:
        s.page.get_by_role("radio", name="Upload").click()
    for s in sessions:
        wait_until_idle(s.page)
        s.page.locator('input[type="file"]').first.set_input_files(str(photos[id(s)][0]))
    for s in sessions:
        s.page.get_by_text(photos[id(s)][1]).wait_for()
        wait_until_idle(s.page)
        assert_clean(s, "Home after an upload")


def make_photos(sessions: list[Session], folder: Path, tag: str) -> dict[int, tuple[Path, str]]:
    """One photo per session, each of its own size, so a caption proves whose upload was decoded."""
    photos = {}
    for i, s in enumerate(sessions):
        w, h = 101 + 7 * i, 67 + 5 * i
        path = folder / f"{tag}-{i}.png"
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        photos[id(s)] = (path, f"Your photo, {w}x{h}")
    return photos


def replicas_by_route(w: Workshop) -> dict[str, set[str]]:
    """From nginx's access log: every routing cookie and the replicas its requests reached."""
    seen: dict[str, set[str]] = {}
    for line in (w.dir / "access.log").read_text().splitlines():
        route, replica = re.search(r"route=(\S+) replica=(.+?) [\d.]+$", line).groups()
        seen.setdefault(route, set()).add(replica)
    return seen


def runs_listed(s: Session) -> int:
    return s.page.get_by_text("Run to show").count()


def test_sessions_stay_on_their_replica_and_survive_the_loss_of_the_other(workshop, browser, tmp_path):
    w = workshop
    by_replica = open_sessions(browser, w)
    everyone = [s for sessions in by_replica.values() for s in sessions]

    # A background job in each session, a page switch, an upload, and back: one session throughout.
    for s in everyone:
        s.page.goto(f"{w.url}/training?n=300&epochs=1")
    for s in everyone:
        wait_until_idle(s.page)
        s.page.get_by_role("button", name="Start training").click()
    for s in everyone:
        s.page.get_by_text("2. Live view").wait_for()
        assert_clean(s, "the Training Monitor after Start")
    upload_on_home(everyone, make_photos(everyone, tmp_path, "first"))
    nav(everyone, "Training Monitor")
    for s in everyone:
        assert runs_listed(s) == 1, "the session was lost between pages: its run is no longer listed"
        assert s.uploads == [("ok", s.replica)], f"upload not accepted by the session's replica: {s.uploads}"
        assert s.served_by(w.url) == s.replica, "nginx moved a browser to another replica"
    routes = replicas_by_route(w)  # every request, not only the ones checked above
    for s in everyone:
        assert routes[s.route()] == {s.replica}, f"one browser's requests reached {routes[s.route()]}"

    # Stop one replica.
    stopped, kept = list(by_replica)
    seen = {id(s): s.page.evaluate("window.__states.length") for s in everyone}
    w.stop_replica(w.replica_ports.index(int(stopped.rsplit(":", 1)[1])))
    moved, stayed = by_replica[stopped], by_replica[kept]
    for s in moved:
        # Streamlit's connection-lost state (pinging / connecting), then connected again through nginx.
        s.page.wait_for_function(
            "n => { const t = window.__states.slice(n); return t.some(x => x !== 'CONNECTED') && "
            "t.at(-1) === 'CONNECTED'; }", arg=seen[id(s)])
    for s in moved:
        s.page.reload()
    for s in moved:
        wait_until_idle(s.page)
        assert_clean(s, "the Training Monitor reloaded after its replica stopped")
        assert s.served_by(w.url) == kept, "a browser of the stopped replica was not sent to the other one"
        assert runs_listed(s) == 0, "after the reload this should be a new session on the other replica"
    for s in stayed:
        states = s.page.evaluate("n => window.__states.slice(n)", seen[id(s)])
        assert states == [], f"a session on the running replica lost its connection: {states}"

    # Everyone carries on: an upload each (now all on the running replica), and the kept runs are still there.
    upload_on_home(everyone, make_photos(everyone, tmp_path, "second"))
    for s in everyone:
        status, replicas = s.uploads[-1]
        assert (status, replicas.split(", ")[-1]) == ("ok", kept), f"upload after the stop: {s.uploads}"
    nav(stayed, "Training Monitor")
    for s in stayed:
        assert runs_listed(s) == 1, "a session on the running replica lost its run"
    for s in everyone:
        s.context.close()
