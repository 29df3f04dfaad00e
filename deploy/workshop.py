"""Run CNN Lab for a room: N Streamlit replicas behind Debian's nginx, optionally with a Ray head.

    python deploy/workshop.py --replicas 2 --port 8501     # what `make workshop REPLICAS=2` runs
    python deploy/workshop.py --replicas 2 --ray           # also a local Ray head for the heavy jobs
    python deploy/workshop.py render --upstream replica:8501 --listen 80   # nginx.conf alone (docker compose)

The replicas listen on loopback ports; only nginx faces the room. Every replica gets the same
`server.cookieSecret` (STREAMLIT_SERVER_COOKIE_SECRET: taken from the environment, or generated once
for this deployment), so a cookie one replica signed is valid on the others. nginx runs in the
foreground under a prefix of its own in a temp dir, so no root and no global nginx config are needed.
A replica that exits is started again; Ctrl-C stops nginx, the replicas and the Ray head, in that order.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
COOKIE_SECRET_ENV = "STREAMLIT_SERVER_COOKIE_SECRET"
STICKY_LINE = "        hash $cnnlab_route consistent;\n"


def render_nginx(upstreams: Sequence[str], listen: str, access_log: str = "/dev/stdout", sticky: bool = True) -> str:
    """The nginx configuration for these replicas (host:port each). `sticky=False` leaves nginx's
    default round robin: only the bench uses it, as the baseline that shows why stickiness matters."""
    if not upstreams:
        raise ValueError("at least one upstream replica is needed")
    text = TEMPLATE.read_text()
    if not sticky:
        assert STICKY_LINE in text
        text = text.replace(STICKY_LINE, "")
    # A replica is skipped for 10 s after 3 failed tries in 10 s: a dead one refuses at once, so that is
    # quick, while one stray error on a live replica does not send its sessions elsewhere.
    servers = "\n".join(f"        server {u} max_fails=3 fail_timeout=10s;" for u in upstreams)
    return text.replace("@SERVERS@", servers).replace("@LISTEN@", listen).replace("@ACCESS_LOG@", access_log)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.read().decode().strip() == "ok"
    except OSError:
        return False


def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, grace_s: float = 15) -> None:
    """Signal the process group we started (the process and anything it spawned), then reap it."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, sig)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class Workshop:
    """Context manager: Ray head (optional), N replicas and nginx, all healthy on entry, stopped on exit."""

    def __init__(self, replicas: int = 2, port: int = 8501, host: str = "127.0.0.1", ray: bool = False,
                 sticky: bool = True, env: dict[str, str] | None = None, timeout_s: float = 240):
        if replicas < 1:
            raise ValueError("at least one replica is needed")
        self.n, self.port, self.host, self.ray, self.sticky = replicas, port, host, ray, sticky
        self.url = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"
        self.timeout_s = timeout_s
        self.extra_env = env or {}
        self.replica_ports: list[int] = []
        self.replicas: list[subprocess.Popen | None] = []
        self.nginx: subprocess.Popen | None = None
        self.ray_head: subprocess.Popen | None = None
        self.dir: Path | None = None

    # ------------------------------------------------------------------ start
    def __enter__(self) -> "Workshop":
        self.dir = Path(tempfile.mkdtemp(prefix="cnnlab-workshop-"))
        self.dir.chmod(0o755)  # started by root, nginx's workers drop to an unprivileged user
        self.env = {**os.environ, **self.extra_env}
        self.env.setdefault(COOKIE_SECRET_ENV, secrets.token_hex(32))
        try:
            if self.ray:
                self._start_ray_head()
            self.replica_ports = [free_port() for _ in range(self.n)]
            self.replicas = [self._start_replica(i) for i in range(self.n)]
            for i in range(self.n):
                self._wait(lambda i=i: _healthy(self.replica_url(i)), self.replicas[i], f"replica {i + 1}")
            self._start_nginx()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def replica_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.replica_ports[i]}"

    def _log(self, name: str):
        return open(self.dir / f"{name}.log", "ab")

    def _start_ray_head(self) -> None:
        ray = Path(sys.executable).with_name("ray")
        if not ray.exists():
            raise RuntimeError("--ray needs Ray: pip install -r requirements-workshop.txt")
        port = free_port()
        # Ray's token authentication: the head and the replicas (drivers) share ~/.ray/auth_token
        # or $RAY_AUTH_TOKEN; drivers only send it when told to.
        self.env.setdefault("RAY_AUTH_MODE", "token")
        with self._log("ray-head") as log:
            self.ray_head = subprocess.Popen(
                [str(ray), "start", "--head", "--block", f"--port={port}", "--include-dashboard=false",
                 "--disable-usage-stats"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        address = f"127.0.0.1:{port}"
        self._wait(lambda: subprocess.run([str(ray), "health-check", "--address", address], env=self.env,
                                          capture_output=True).returncode == 0, self.ray_head, "the Ray head")
        # Same machine: the replicas join as drivers through this node (issue #18's CNNLAB_RAY_ADDRESS).
        self.env["CNNLAB_RAY_ADDRESS"] = address

    def _start_replica(self, i: int) -> subprocess.Popen:
        with self._log(f"replica-{i + 1}") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "Home.py", "--server.headless", "true",
                 "--server.address", "127.0.0.1", "--server.port", str(self.replica_ports[i]),
                 "--browser.gatherUsageStats", "false"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _start_nginx(self) -> None:
        if not Path(NGINX).exists():
            raise RuntimeError("nginx is missing: apt-get install -y nginx (Debian's package)")
        conf = self.dir / "nginx.conf"
        conf.write_text(render_nginx([f"127.0.0.1:{p}" for p in self.replica_ports], f"{self.host}:{self.port}",
                                     access_log=str(self.dir / "access.log"), sticky=self.sticky))
        with self._log("nginx") as log:
            self.nginx = subprocess.Popen([NGINX, "-p", str(self.dir), "-c", str(conf), "-e", "stderr"],
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait(lambda: _healthy(self.url), self.nginx, "nginx")

    def _wait(self, ready, proc: subprocess.Popen, what: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited early (code {proc.returncode}):\n{self.logs()}")
            if ready():
                return
            time.sleep(0.25)
        raise TimeoutError(f"{what} was not ready within {self.timeout_s:.0f} s:\n{self.logs()}")

    def logs(self, tail: int = 30) -> str:
        out = []
        for path in sorted(self.dir.glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            out.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(out)

    # ------------------------------------------------------------------ while running
    def stop_replica(self, i: int) -> None:
        _stop(self.replicas[i])

    def restart_dead(self) -> list[int]:
        """Start again every replica that exited (nginx sends its browsers elsewhere meanwhile)."""
        dead = [i for i, p in enumerate(self.replicas) if p.poll() is not None]
        for i in dead:
            self.replicas[i] = self._start_replica(i)
        return dead

    # ------------------------------------------------------------------ stop
    def __exit__(self, *exc) -> None:
        _stop(self.nginx)
        for proc in self.replicas:
            _stop(proc)
        _stop(self.ray_head, signal.SIGINT, 40)  # `ray start --block` stops its processes on Ctrl-C
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


def _lan_address() -> str:
    """The address other machines in the room reach this one at (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2, help="Streamlit processes behind nginx (default 2)")
    parser.add_argument("--port", type=int, default=8501, help="nginx's port, the one attendees open (8501)")
    parser.add_argument("--host", default="0.0.0.0", help="nginx's address; 127.0.0.1 keeps the room out")
    parser.add_argument("--ray", action="store_true", help="start a local Ray head and run heavy jobs on it")
    sub = parser.add_subparsers(dest="command")
    render = sub.add_parser("render", help="print the nginx configuration for the given replicas and exit")
    render.add_argument("--upstream", action="append", required=True, help="a replica's host:port (repeat)")
    render.add_argument("--listen", default="80", help="nginx's listen address (default 80)")
    render.add_argument("--access-log", default="/dev/stdout")
    args = parser.parse_args(argv)
    if args.command == "render":
        print(render_nginx(args.upstream, args.listen, args.access_log), end="")
        return

    # `kill` stops cleanly like Ctrl-C, and Ctrl-C works even where the shell started us ignoring it (`&`).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)
    print(f"Starting {args.replicas} replica(s){' and a Ray head' if args.ray else ''}...", flush=True)
    try:
        with Workshop(args.replicas, args.port, args.host, args.ray) as w:
            print(f"CNN Lab is up: {w.url}", flush=True)
            if args.host != "127.0.0.1":
                print(f"Attendees open: http://{_lan_address()}:{args.port}", flush=True)
            if "CNNLAB_RAY_ADDRESS" in w.env:
                print(f"Heavy jobs run on Ray at {w.env['CNNLAB_RAY_ADDRESS']}.", flush=True)
            print(f"Replicas: {', '.join(w.replica_url(i) for i in range(w.n))}. Logs in {w.dir}. "
                  "Ctrl-C stops everything.", flush=True)
            while True:
                time.sleep(2)
                if w.nginx.poll() is not None:
                    sys.exit(f"nginx exited:\n{w.logs()}")
                for i in w.restart_dead():
                    print(f"replica {i + 1} exited; started it again", flush=True)
    except KeyboardInterrupt:
        pass
    print("Stopped nginx, the replicas and the Ray head." if args.ray else "Stopped nginx and the replicas.", flush=True)


if __name__ == "__main__":
    main()
