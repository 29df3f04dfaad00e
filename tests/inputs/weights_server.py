"""A local HTTP server on 127.0.0.1 that serves fabricated checkpoints, for the real download path
(no network), and the fabricated checkpoint itself."""
import hashlib
import http.server
import io
import threading

import torch
import torchvision


class Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    lie_about_length = False

    def do_GET(self):  # noqa: N802 (the http.server API)
        body = self.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) * 2 if self.lie_about_length else len(body)))
        self.end_headers()
        self.wfile.write(body)  # when lying, the connection closes half way through the promised bytes

    def log_message(self, *args):
        pass


def start() -> tuple[http.server.ThreadingHTTPServer, str]:
    """A fresh server (no files, honest lengths) and its base URL."""
    Handler.files, Handler.lie_about_length = {}, False
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/"


def resnet18_checkpoint(seed: int = 7) -> tuple[str, bytes, dict]:
    """A resnet18 state dict (random weights) saved as a checkpoint named by its own hash, as torchvision
    names its files: (name, bytes, state)."""
    torch.manual_seed(seed)
    state = torchvision.models.resnet18().state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    body = buffer.getvalue()
    return f"resnet18-{hashlib.sha256(body).hexdigest()[:8]}.pth", body, state
