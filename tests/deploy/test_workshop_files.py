"""The workshop deployment files: the nginx template, the launcher, docker-compose.yml, deploy/k8s/, Dockerfile.

Fast checks of what makes replicas work at all: sticky routing, WebSocket upgrade headers that every
location really gets, long timeouts on the session's stream, uploads routed like the rest, one cookie
secret shared by every replica, and the names that tie the Kubernetes and compose pieces together.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deploy import workshop
from deploy.workshop import render_nginx

ROOT = Path(__file__).resolve().parent.parent.parent
K8S = ROOT / "deploy" / "k8s"
NGINX = Path("/usr/sbin/nginx")
TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SIZE_UNITS = {"k": 2**10, "m": 2**20, "g": 2**30}
BIGGEST_UPLOAD = 200 * 2**20  # the MRI viewer's NIfTI cap


def parse_nginx(text: str) -> list[tuple[str, list[str], list | None]]:
    """nginx config -> [(directive, args, children or None)], enough to inspect the template."""
    tokens = re.findall(r'"[^"]*"|[{};]|[^\s{};]+', re.sub(r"#[^\n]*", "", text))

    def block(i: int):
        items, words = [], []
        while i < len(tokens):
            t, i = tokens[i], i + 1
            if t == ";":
                items.append((words[0], words[1:], None))
                words = []
            elif t == "{":
                children, i = block(i)
                items.append((words[0], words[1:], children))
                words = []
            elif t == "}":
                return items, i
            else:
                words.append(t.strip('"'))
        return items, i

    return block(0)[0]


def directives(items, name: str) -> list[list[str]]:
    return [args for d, args, _ in items if d == name]


def child(items, name: str, *args: str):
    return next(children for d, a, children in items if d == name and tuple(a) == args)


def seconds(value: str) -> int:
    return int(value[:-1]) * TIME_UNITS[value[-1]] if value[-1] in TIME_UNITS else int(value)


def size(value: str) -> int:
    return int(value[:-1]) * SIZE_UNITS[value[-1].lower()] if value[-1].lower() in SIZE_UNITS else int(value)


@pytest.fixture(scope="module")
def conf():
    return parse_nginx(render_nginx(["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"], "127.0.0.1:8500"))


def test_nginx_routes_every_request_by_the_browser_cookie(conf):
    http = child(conf, "http")
    upstream = child(http, "upstream", "cnnlab")
    assert directives(upstream, "hash") == [["$cnnlab_route", "consistent"]]
    assert [a[0] for a in directives(upstream, "server")] == ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"]
    # One stray error must not mark a live replica down (and move its sessions); a dead one refuses at once.
    assert all("max_fails=3" in a for a in directives(upstream, "server"))
    # The key is the cookie, or a fresh id that is then set as the cookie on the first response.
    route = child(http, "map", "$cookie_cnnlab_route", "$cnnlab_route")
    assert dict((d, a[0]) for d, a, _ in route) == {"": "$request_id", "default": "$cookie_cnnlab_route"}
    server = child(http, "server")
    assert ["Set-Cookie", "$cnnlab_set_route", "always"] in directives(server, "add_header")
    setter = dict((d, a[0]) for d, a, _ in child(http, "map", "$cookie_cnnlab_route", "$cnnlab_set_route"))
    assert setter["default"] == "" and setter[""].startswith("cnnlab_route=$request_id;")
    # Every location goes to that one upstream: the stream, uploads and media all land on the session's replica.
    locations = {a[0]: children for d, a, children in server if d == "location"}
    assert set(locations) == {"/_stcore/stream", "/_stcore/upload_file", "/"}
    assert all(directives(body, "proxy_pass") == [["http://cnnlab"]] for body in locations.values())


def test_nginx_upgrades_websockets_in_every_location_and_keeps_the_stream_open(conf):
    http = child(conf, "http")
    server = child(http, "server")
    headers = {a[0]: a[1] for a in directives(server, "proxy_set_header")}
    assert headers["Upgrade"] == "$http_upgrade" and headers["Connection"] == "$connection_upgrade"
    assert headers["Host"] == "$host"
    assert directives(server, "proxy_http_version") == [["1.1"]]
    upgrade = dict((d, a[0]) for d, a, _ in child(http, "map", "$http_upgrade", "$connection_upgrade"))
    assert upgrade == {"default": "upgrade", "": "close"}
    # No upstream keepalive: a reused connection the replica closed would get a live replica marked down.
    assert not directives(child(http, "upstream", "cnnlab"), "keepalive")
    locations = {a[0]: children for d, a, children in server if d == "location"}
    # nginx drops the server's proxy_set_header lines in any location that sets one of its own.
    assert not any(directives(body, "proxy_set_header") for body in locations.values())
    stream = locations["/_stcore/stream"]
    assert seconds(directives(stream, "proxy_read_timeout")[0][0]) >= 3600
    assert seconds(directives(stream, "proxy_send_timeout")[0][0]) >= 3600
    upload = locations["/_stcore/upload_file"]
    assert directives(upload, "proxy_request_buffering") == [["off"]]
    assert size(directives(server, "client_max_body_size")[0][0]) >= BIGGEST_UPLOAD


def test_nginx_needs_no_root_paths(conf):
    """Everything it writes is relative to its prefix (nginx -p DIR), so it runs without root."""
    assert directives(conf, "daemon") == [["off"]] and directives(conf, "pid") == [["nginx.pid"]]
    http = child(conf, "http")
    for name in ("client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path"):
        assert not directives(http, name)[0][0].startswith("/"), name


def test_round_robin_baseline_only_drops_the_hash():
    sticky, plain = (render_nginx(["a:1", "b:2"], "80", sticky=s) for s in (True, False))
    assert "hash $cnnlab_route" in sticky and "hash" not in plain.split("upstream cnnlab")[1].split("}")[0]
    assert sticky.replace(workshop.STICKY_LINE, "") == plain


@pytest.mark.skipif(not NGINX.exists(), reason="needs Debian's nginx (apt-get install -y nginx)")
def test_rendered_config_passes_nginx_own_check(tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_nginx(["127.0.0.1:9001", "127.0.0.1:9002"], "127.0.0.1:8500"))
    out = subprocess.run([str(NGINX), "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr


def test_render_command_prints_the_config_compose_uses():
    out = subprocess.run([sys.executable, "deploy/workshop.py", "render", "--upstream", "replica:8501",
                          "--listen", "8080"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout == render_nginx(["replica:8501"], "8080")


class FakeProcess:
    def __init__(self, args, env=None, **kwargs):
        self.args, self.env, self.pid = args, env, 0
        STARTED.append(self)

    def poll(self):
        return None


STARTED: list[FakeProcess] = []


def start_fake_workshop(monkeypatch, n: int, env: dict[str, str] | None = None) -> list[FakeProcess]:
    """Run the launcher's start-up with processes faked: what would each replica and nginx get?"""
    STARTED.clear()
    monkeypatch.setattr(workshop.subprocess, "Popen", FakeProcess)
    monkeypatch.setattr(workshop, "_healthy", lambda url: True)
    monkeypatch.setattr(workshop, "_stop", lambda proc, *a: None)
    monkeypatch.setattr(workshop, "NGINX", sys.executable)  # any existing file: it is never run
    with workshop.Workshop(n, port=8500, env=env) as w:
        conf = (w.dir / "nginx.conf").read_text()
    assert all(f"server 127.0.0.1:{p} " in conf for p in w.replica_ports)
    return list(STARTED)


def test_every_replica_gets_one_cookie_secret_generated_per_deployment(monkeypatch):
    first = start_fake_workshop(monkeypatch, 3)
    replicas, nginx = first[:3], first[3]
    secrets = {p.env[workshop.COOKIE_SECRET_ENV] for p in replicas}
    assert len(secrets) == 1 and len(secrets.pop()) == 64
    ports = [p.args[p.args.index("--server.port") + 1] for p in replicas]
    assert len(set(ports)) == 3 and all(p.args[p.args.index("--server.address") + 1] == "127.0.0.1" for p in replicas)
    assert nginx.args[1:3] == ["-p", nginx.args[2]] and nginx.args[3] == "-c"
    second = start_fake_workshop(monkeypatch, 2)
    assert second[0].env[workshop.COOKIE_SECRET_ENV] != first[0].env[workshop.COOKIE_SECRET_ENV]
    given = start_fake_workshop(monkeypatch, 2, env={workshop.COOKIE_SECRET_ENV: "from-the-host"})
    assert {p.env[workshop.COOKIE_SECRET_ENV] for p in given[:2]} == {"from-the-host"}


# ---------------------------------------------------------------- docker compose
@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_shares_one_cookie_secret_and_one_ray_token(compose):
    services = compose["services"]
    assert set(services) == {"replica", "nginx", "ray-head", "ray-worker"}
    env = services["replica"]["environment"]
    assert re.fullmatch(r"\$\{CNNLAB_COOKIE_SECRET:\?.+\}", env["STREAMLIT_SERVER_COOKIE_SECRET"])
    tokens = {services[s]["environment"]["RAY_AUTH_TOKEN"] for s in ("replica", "ray-head", "ray-worker")}
    assert len(tokens) == 1 and re.fullmatch(r"\$\{CNNLAB_RAY_TOKEN:\?.+\}", tokens.pop())
    assert env["CNNLAB_RAY_ADDRESS"] == "ray://ray-head:10001"
    assert "--ray-client-server-port=10001" in services["ray-head"]["command"]
    assert "--address=ray-head:6379" in services["ray-worker"]["command"]
    assert "/_stcore/health" in " ".join(services["replica"]["healthcheck"]["test"])


def test_compose_nginx_renders_the_template_for_every_replica(compose):
    nginx = compose["services"]["nginx"]
    command = nginx["command"][-1]
    assert "deploy/workshop.py render --upstream replica:8501 --listen 8080" in " ".join(command.split())
    assert nginx["ports"] == ["${PORT:-8501}:8080"]
    assert nginx["depends_on"]["replica"]["condition"] == "service_healthy"
    assert "--server.port=8501" in compose["services"]["replica"]["command"]


def _compose_cli() -> list[str] | None:
    for cli in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cli[0]) and subprocess.run([*cli, "version"], capture_output=True).returncode == 0:
            return cli
    return None


@pytest.mark.skipif(_compose_cli() is None, reason="needs docker compose (the client alone; no engine)")
def test_compose_file_passes_docker_compose_config():
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(Path.home()), "CNNLAB_COOKIE_SECRET": "s",
           "CNNLAB_RAY_TOKEN": "t"}
    out = subprocess.run([*_compose_cli(), "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr


# ---------------------------------------------------------------- Kubernetes
@pytest.fixture(scope="module")
def k8s():
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            docs[(doc["kind"], doc.get("metadata", {}).get("name"))] = doc
    return docs


def test_kustomization_lists_every_manifest(k8s):
    kustomization = k8s[("Kustomization", None)]
    assert sorted(kustomization["resources"]) == sorted(p.name for p in K8S.glob("*.yaml")
                                                        if p.name != "kustomization.yaml")


def test_deployment_service_and_ingress_keep_a_browser_on_one_pod(k8s):
    deployment, service, ingress = k8s[("Deployment", "cnnlab")], k8s[("Service", "cnnlab")], k8s[("Ingress", "cnnlab")]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["sessionAffinity"] == "ClientIP"
    assert service["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] >= 3600
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert notes["nginx.ingress.kubernetes.io/affinity-mode"] == "persistent"
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert size(notes["nginx.ingress.kubernetes.io/proxy-body-size"]) >= BIGGEST_UPLOAD
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "cnnlab" and backend["port"]["name"] in [p["name"] for p in service["spec"]["ports"]]
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/_stcore/health"
    assert "--server.port=8501" in container["command"] and container["ports"][0]["containerPort"] == 8501


def test_pods_share_the_cookie_secret_and_reach_the_ray_cluster(k8s):
    container = k8s[("Deployment", "cnnlab")]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["STREAMLIT_SERVER_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "cnnlab-secrets"
    ray = k8s[("RayCluster", "cnnlab-ray")]
    assert ray["apiVersion"] == "ray.io/v1"
    head = ray["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    client_port = next(p["containerPort"] for p in head["ports"] if p["name"] == "client")
    assert env["CNNLAB_RAY_ADDRESS"]["value"] == f"ray://{ray['metadata']['name']}-head-svc:{client_port}"
    # KubeRay hands the Ray pods the `auth_token` key of authOptions.secretName; the replicas read the same.
    assert ray["spec"]["authOptions"]["mode"] == "token" and env["RAY_AUTH_MODE"]["value"] == "token"
    token = env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert (token["name"], token["key"]) == (ray["spec"]["authOptions"]["secretName"], "auth_token")
    workers = ray["spec"]["workerGroupSpecs"]
    assert workers and all(w["replicas"] >= 1 for w in workers)
    images = {head["image"], container["image"]} | {w["template"]["spec"]["containers"][0]["image"] for w in workers}
    assert len(images) == 1, f"the Ray nodes must run the app's own image (the same `core`): {images}"


@pytest.mark.skipif(not (ROOT / "requirements-workshop.txt").exists(), reason="requirements-workshop.txt not here")
def test_raycluster_runs_the_pinned_ray(k8s):
    pin = re.search(r"^ray(\[[^\]]*\])?==(\S+)", (ROOT / "requirements-workshop.txt").read_text(), re.M)
    assert pin and k8s[("RayCluster", "cnnlab-ray")]["spec"]["rayVersion"] == pin.group(2)


def test_image_uses_cpu_torch_at_the_pinned_versions_and_requirements_keep_pypi():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--index-url https://download.pytorch.org/whl/cpu $(grep -E '^(torch|torchvision)==' requirements.txt)" \
        in dockerfile
    for name in ("requirements.txt", "requirements-dev.txt"):
        assert "index-url" not in (ROOT / name).read_text(), f"{name} must keep PyPI's torch, no index URL"
