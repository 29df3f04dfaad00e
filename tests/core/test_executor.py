"""The executor: job keys, shared jobs (attach, detach, last viewer stops), bounded cache, queue."""
import threading
import time

import numpy as np
import pytest
import torch

from core import estimates  # noqa: F401  (imported here, not in a job thread the tests time)
from core import executor as ex_mod
from core.executor import Executor, Spec, job_key, status_text


def gated(result="done", steps=1000):
    """A job that advances one step per `go` release (or runs free once `free` is set)."""
    go, free, calls = threading.Semaphore(0), threading.Event(), []

    def work(progress, should_stop):
        calls.append(1)
        for i in range(steps):
            if should_stop():
                return None
            if not free.is_set():
                go.acquire(timeout=0.05)
            progress((i + 1) / steps, f"step {i + 1}")
        return result
    return work, go, free, calls


def spec(key, work, **kw):
    return Spec("test", key, work, **kw)


def wait_for(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


# ---------------------------------------------------------------- keys
def test_keys_follow_settings_data_and_code(monkeypatch):
    base = {"lr": 0.01, "seed": 0, "data": np.arange(6, dtype=np.float32)}
    assert job_key("k", base) == job_key("k", dict(reversed(list(base.items()))))  # order-free
    assert job_key("k", base) != job_key("k", base | {"seed": 1})
    assert job_key("k", base) != job_key("other", base)
    changed = base | {"data": np.arange(6, dtype=np.float32) * 2}  # same shape, other content
    assert job_key("k", base) != job_key("k", changed)
    assert job_key("k", {"x": torch.ones(3)}) != job_key("k", {"x": torch.ones(3) * 2})
    assert job_key("k", {"m": torch.nn.Linear(2, 2)}) != job_key("k", {"m": torch.nn.Linear(2, 2)})  # weights
    assert job_key("k", {"b": b"upload-1"}) != job_key("k", {"b": b"upload-2"})
    before = job_key("k", base)
    monkeypatch.setattr(ex_mod, "_code_version", "another-version")
    assert job_key("k", base) != before
    with pytest.raises(TypeError, match="Cannot key"):
        job_key("k", {"f": object()})


# ---------------------------------------------------------------- sharing
def test_identical_jobs_run_once_and_share_the_live_view():
    ex = Executor(cache_size=4)
    work, go, free, calls = gated()
    a = ex.submit(spec("same", work))
    b = ex.submit(spec("same", gated()[0]))  # another session, the same key: attaches
    assert a.execution is b.execution and a.others == 1 and b.others == 1
    for _ in range(5):
        go.release()
    wait_for(lambda: a.fraction >= 0.004)
    assert b.fraction == a.fraction and b.text == a.text
    free.set()
    assert a.join(10) and a.result == b.result == "done" and len(calls) == 1
    c = ex.submit(spec("same", gated()[0]))  # a third, after it finished: the cached result at once
    assert c.execution is a.execution and c.result == "done" and len(calls) == 1
    d = ex.submit(spec("different", gated(result="other")[0]))
    assert d.execution is not a.execution


def test_stop_detaches_and_the_last_viewer_stops_the_job():
    ex = Executor()
    work, go, free, calls = gated()
    a = ex.submit(spec("job", work))
    b = ex.submit(spec("job", work))
    wait_for(lambda: a.state == "running")
    a.stop()
    assert not a.attached and not a.alive
    time.sleep(0.4)  # longer than the viewer check interval
    assert b.alive and b.execution.state == "running"
    b.stop()
    assert b.join(5) and b.execution.state == "stopped"
    assert ex.find("job") is None  # a partial result is not kept for others
    again = ex.submit(spec("job", gated(steps=1)[0]))
    assert again.execution is not b.execution and again.join(5) and again.result == "done"


def test_a_closed_tab_detaches_by_itself():
    ex = Executor()
    work, go, free, calls = gated()
    open_tab = threading.Event()
    open_tab.set()
    a = ex.submit(spec("job", work), keep_going=open_tab.is_set)
    wait_for(lambda: a.state == "running")
    open_tab.clear()
    assert a.join(2) and a.execution.state == "stopped"


def test_failures_end_with_a_message_and_are_not_cached():
    ex = Executor()

    def broken(progress, should_stop):
        raise ValueError("boom")
    a = ex.submit(spec("bad", broken))
    assert a.join(5) and a.state == "failed" and "ValueError: boom" in a.error
    assert ex.find("bad") is None


def test_the_cache_is_bounded_by_size_and_age():
    ex = Executor(cache_size=2, ttl_s=3600)
    for i in range(3):
        ex.submit(spec(f"k{i}", gated(result=i, steps=1)[0])).join(5)
    ex.submit(spec("k3", gated(result=3, steps=1)[0])).join(5)  # eviction runs on submit
    assert {e.key for e in ex.jobs()} == {"k1", "k2", "k3"}  # k0 was the least recently used
    assert ex.submit(spec("k2", gated()[0])).result == 2  # used again: the most recent, k1 goes
    assert {e.key for e in ex.jobs()} == {"k2", "k3"}
    ex.ttl_s = 0.0
    ex.submit(spec("k9", gated(steps=1)[0])).join(5)
    assert {e.key for e in ex.jobs()} == {"k9"}


# ---------------------------------------------------------------- queue
def test_waiting_jobs_know_their_place_and_expected_start(monkeypatch):
    ex = Executor()
    monkeypatch.setattr(ex, "_slots", 1)
    work, go, free, calls = gated(steps=10)
    first = ex.submit(spec("first", work, estimate=10.0))
    wait_for(lambda: first.state == "running")
    second = ex.submit(spec("second", gated(steps=1)[0], estimate=4.0))
    third = ex.submit(spec("third", gated(steps=1)[0], estimate=1.0))
    wait_for(lambda: third.state == "queued")
    assert second.position() == 1 and third.position() == 2 and first.position() is None
    # Before it moves, the running job's remaining time is its estimate; the second starts after it,
    # the third after both (one slot).
    assert second.expected_start() == pytest.approx(10.0, abs=0.5)
    assert third.expected_start() == pytest.approx(14.0, abs=0.5)
    for _ in range(5):
        go.release()
    wait_for(lambda: first.fraction >= 0.5)
    left = first.remaining()
    assert left is not None and left < 5  # now from its own progress rate, not the estimate
    assert "2nd in line" in status_text(third) and "starting in about" in status_text(third)
    assert "left" in status_text(first)
    free.set()
    assert third.join(10) and third.result == "done" and second.result == "done"


def test_a_job_without_an_estimate_ahead_makes_the_start_unknown(monkeypatch):
    ex = Executor()
    monkeypatch.setattr(ex, "_slots", 1)
    work, go, free, calls = gated()
    first = ex.submit(spec("a", work))  # no estimate, no progress yet
    wait_for(lambda: first.state == "running")
    second = ex.submit(spec("b", gated(steps=1)[0], estimate=1.0))
    wait_for(lambda: second.state == "queued")
    assert second.expected_start() is None and "no time estimate" in status_text(second)
    free.set()
    assert second.join(10)
