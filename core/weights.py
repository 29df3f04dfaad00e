"""ImageNet weights for the torchvision models: read from the torch hub cache, or downloaded into it
once per server, with progress any number of waiting sessions can watch.

torch.hub's downloader reports progress only to a terminal (tqdm), so the download is done here
(urllib, in chunks) with the same integrity check torch.hub makes: the file's SHA-256 must start
with the hash in its name, as in every torchvision checkpoint name. The file is written under a
temporary name and renamed when complete, so a broken download never leaves a half file behind.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.data import downloads_allowed
from core.errors import CNNLabError

MIRROR_ENV = "CNNLAB_WEIGHTS_MIRROR"  # a folder URL holding the same file names, e.g. a workshop host's copy
TIMEOUT_S = 20  # per network read
RETRY_AFTER_S = 600  # after a failed download, the next try waits this long (no retry on every rerun)
CHUNK = 1 << 18


# torchvision's own addresses for the registry's models (DEFAULT weights; a test checks they agree).
# Importing torchvision costs about 3 s and 165 MB (it loads torch._dynamo): far too much for a page
# that only asks whether a file is in the cache. Other models fall back to torchvision's enum.
CHECKPOINT_URLS = {
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    "mobilenet_v3_small": "https://download.pytorch.org/models/mobilenet_v3_small-047dcff4.pth",
    "efficientnet_b0": "https://download.pytorch.org/models/efficientnet_b0_rwightman-7f5810bc.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",  # the style lab's features
}


def _official_url(key: str) -> str:
    if key in CHECKPOINT_URLS:
        return CHECKPOINT_URLS[key]
    from torchvision.models import get_model_weights

    return get_model_weights(key).DEFAULT.url


def file_name(key: str) -> str:
    return os.path.basename(_official_url(key))


def url(key: str) -> str:
    """Where the checkpoint is downloaded from: torchvision's address, or the mirror's."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    return f"{mirror.rstrip('/')}/{file_name(key)}" if mirror else _official_url(key)


def cached_path(key: str) -> Path:
    """Where torch.hub keeps (or would keep) this model's ImageNet checkpoint."""
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name(key)


def expected_hash_prefix(name: str) -> str:
    """The SHA-256 prefix a checkpoint's name promises ("resnet18-f37072fd.pth" -> "f37072fd")."""
    found = torch.hub.HASH_REGEX.search(name)
    if not found or not found.group(1):
        raise CNNLabError(f"{name} carries no hash in its name, so its download cannot be checked.")
    return found.group(1)


def fetch(source: str, dest: Path, progress=lambda done, total: None, timeout: float = TIMEOUT_S) -> None:
    """Download source to dest, calling progress(bytes done, bytes total or 0) per chunk; the SHA-256
    must start with the hash in dest's name. Raises CNNLabError saying what went wrong."""
    prefix = expected_hash_prefix(dest.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(source, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                progress(done, total)
        if total and done != total:
            raise CNNLabError(f"The download of {dest.name} stopped after {done:,} of {total:,} bytes.")
        if not digest.hexdigest().startswith(prefix):
            raise CNNLabError(f"The downloaded {dest.name} is damaged or not the published file "
                              "(its SHA-256 does not match the hash in its name); it was discarded.")
        os.replace(tmp, dest)
    except CNNLabError:
        raise
    except Exception as err:  # URLError, HTTPError, timeouts, resets, a full disk: all mean "no weights"
        raise CNNLabError(f"The download of {dest.name} failed ({type(err).__name__}: {err}).") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@dataclass
class Download:
    """One checkpoint download on a background thread; sessions read its progress."""

    key: str
    done: int = 0
    total: int = 0
    error: str = ""
    started: float = field(default_factory=time.monotonic)
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def ok(self) -> bool:
        return self.finished.is_set() and not self.error

    def eta_s(self) -> float | None:
        """Seconds left at the speed so far (None until a share of the file has arrived)."""
        elapsed = time.monotonic() - self.started
        if not self.total or self.done < self.total * 0.02 or elapsed <= 0:
            return None
        return (self.total - self.done) / (self.done / elapsed)

    def _run(self) -> None:
        try:
            fetch(url(self.key), cached_path(self.key), self._progress)
        except CNNLabError as err:
            self.error = str(err)
        finally:
            self.finished.set()

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total


_downloads: dict[str, Download] = {}
_lock = threading.Lock()


def available(key: str) -> bool:
    return cached_path(key).exists()


def download(key: str) -> Download | None:
    """The server's download of this checkpoint: started now if needed, shared with every session that
    asks while it runs. None when downloads are off here or the last try failed recently."""
    if not downloads_allowed():
        return None
    with _lock:
        current = _downloads.get(key)
        if current is not None and (not current.finished.is_set() or available(key)):
            return current
        if current is not None and current.error and time.monotonic() - current.started < RETRY_AFTER_S:
            return None
        current = _downloads[key] = Download(key)
        threading.Thread(target=current._run, name=f"cnnlab-weights-{key}", daemon=True).start()
        return current


def obtainable(key: str) -> bool:
    """Are the weights here, or worth trying to download (allowed, and no recent failure)?"""
    if available(key):
        return True
    if not downloads_allowed():
        return False
    with _lock:
        last = _downloads.get(key)
    return last is None or not last.error or time.monotonic() - last.started >= RETRY_AFTER_S


def state_dict(key: str) -> tuple[dict | None, str]:
    """The ImageNet state dict from the cache (downloading it first, waiting, when allowed):
    (state, where it came from), or (None, why not)."""
    if not available(key):
        job = download(key)
        if job is None:
            return None, "downloads are off here" if not downloads_allowed() else "a recent download failed"
        job.finished.wait()
        if job.error:
            return None, job.error
        source = f"ImageNet weights downloaded to {cached_path(key).parent}"
    else:
        source = f"ImageNet weights from the local cache ({cached_path(key).name})"
    try:
        return torch.load(cached_path(key), map_location="cpu", weights_only=True), source
    except Exception as err:  # a foreign or truncated file placed in the cache by hand
        return None, f"{cached_path(key).name} in the cache could not be read ({type(err).__name__})"
