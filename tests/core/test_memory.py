"""The allocator settings the server applies on glibc (core/memory.py)."""
import ctypes

import pytest

from core import memory

glibc_only = pytest.mark.skipif(memory._LIBC is None, reason="glibc's allocator only")


@glibc_only
def test_arenas_are_capped_once():
    assert memory.cap_arenas()
    assert memory.cap_arenas()  # again: nothing more to do, still reported as applied


@glibc_only
def test_trim_hands_freed_memory_back_at_most_every_interval(monkeypatch):
    import psutil

    monkeypatch.setitem(memory._state, "last_trim", 0.0)
    proc = psutil.Process()
    # 180 MB of blocks below the mmap threshold (so inside an arena), all freed but the last one, which
    # keeps the heap's top in use: free memory that only a trim returns.
    blocks = [ctypes.create_string_buffer(60_000) for _ in range(3_000)]
    del blocks[:-1]
    before = proc.memory_info().rss
    assert memory.trim(now=1e9)
    assert proc.memory_info().rss < before - 50 * 2**20
    assert not memory.trim(now=1e9 + memory.TRIM_EVERY_S / 2)  # too soon
    assert memory.trim(now=1e9 + memory.TRIM_EVERY_S)


def test_without_glibc_both_do_nothing(monkeypatch):
    monkeypatch.setattr(memory, "_LIBC", None)
    monkeypatch.setitem(memory._state, "tuned", False)
    assert not memory.cap_arenas()
    assert not memory.trim(now=1e9)
