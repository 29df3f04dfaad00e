"""The server's memory on glibc (Linux, Community Cloud, the Docker image): two settings of the C
allocator that a long-running, many-threaded server needs and Python leaves at their defaults.

- Streamlit runs every rerun on a new thread, and glibc gives threads their own malloc arenas (up to 8
  per core); memory freed in one arena is not reused by the others, so a server touring all pages
  holds about 100 MB more with the default. Two arenas keep that down without making threads queue.
- Freed memory inside an arena stays mapped until ``malloc_trim`` hands it back: about 180 MB over a
  tour of all pages, most of it what a page's first run allocated and let go (imports, models built
  to be profiled, galleries). A trim takes 0-15 ms, so it runs after every page's run; TRIM_EVERY_S
  only keeps a room of sessions switching pages at once from trimming once each.

Elsewhere (macOS, Windows, musl) both are no-ops.
"""
from __future__ import annotations

import ctypes
import threading
import time

M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h
ARENAS = 2
TRIM_EVERY_S = 1.0

_lock = threading.Lock()
_state = {"tuned": False, "last_trim": 0.0}


def _glibc():
    """The C library already loaded into this process, if it is glibc. Not ctypes.util.find_library:
    that runs ldconfig in a subprocess (20-45 ms here), on Home's path to its first paint."""
    try:
        libc = ctypes.CDLL(None)  # the symbols the process already has, libc's among them
    except (OSError, TypeError):  # Windows takes no None
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()


def cap_arenas() -> bool:
    """Limit glibc to ARENAS malloc arenas (once per process; arenas made before stay). True if applied."""
    with _lock:
        if _LIBC is None or _state["tuned"]:
            return _state["tuned"]
        _state["tuned"] = bool(_LIBC.mallopt(M_ARENA_MAX, ARENAS))
        return _state["tuned"]


def trim(now: float | None = None) -> bool:
    """Hand freed memory back to the system, unless that was done less than TRIM_EVERY_S ago.
    True if it ran."""
    now = time.monotonic() if now is None else now
    with _lock:
        if _LIBC is None or now - _state["last_trim"] < TRIM_EVERY_S:
            return False
        _state["last_trim"] = now
    _LIBC.malloc_trim(0)
    return True
