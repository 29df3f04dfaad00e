"""One executor for every background job: threads here by default, a Ray cluster when configured.

A job is a ``Spec``: ``work(progress, should_stop)`` plus the key of what determines its result
(``job_key``: the settings, the data's content, the seed and the code version). Identical jobs are
computed once: a second session submitting the same key gets a ``Viewer`` on the running or
finished ``Execution`` and watches the same progress. ``Viewer.stop`` only detaches, unless it is
the last viewer; a closed browser tab detaches by itself (its ``keep_going`` turns false).
Finished results stay in a bounded cache (LRU, ``CNNLAB_JOB_CACHE`` entries, ``CNNLAB_JOB_TTL_S``).
``CNNLAB_SHARE_JOBS=0`` turns sharing off (each start is its own job).

Jobs wait in one FIFO queue for a slot (``CNNLAB_MAX_TRAINING_RUNS``, default 2, in the server;
the cluster's CPUs under Ray), so a waiting job knows its place and an estimated start.

Backends:
- embedded (default): the work runs on a thread of the server process.
- Ray (``CNNLAB_RAY_ADDRESS`` = ``auto``, ``host:port`` or ``ray://...``): the work is a Ray task;
  progress and updates come back through a small board actor, which also carries Stop. Ray is
  imported only then (``requirements-workshop.txt``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import heapq
import math
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.errors import CNNLabError

CORE = Path(__file__).resolve().parent
Progress = Callable[..., None]  # progress(fraction, text, update=None)
Work = Callable[[Progress, Callable[[], bool]], Any]


# ---------------------------------------------------------------- keys
_code_version: str | None = None


def code_version() -> str:
    """A hash of every core/ source: any change to the computing code gives new keys."""
    global _code_version
    if _code_version is None:
        h = hashlib.blake2b(digest_size=8)
        for path in sorted(CORE.glob("*.py")):
            h.update(path.name.encode() + b"\0" + path.read_bytes())
        _code_version = h.hexdigest()
    return _code_version


def _feed(h, value) -> None:
    """Hash a setting by content: arrays, tensors, modules (weights) and bytes by their data."""
    tag = type(value).__name__.encode()
    if value is None or isinstance(value, (bool, int, float, str)):
        h.update(tag + b":" + repr(value).encode() + b";")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        h.update(tag + str(len(value)).encode() + b":" + bytes(value))
    elif isinstance(value, torch.Tensor):
        _feed(h, value.detach().cpu().contiguous().numpy())
    elif isinstance(value, np.ndarray):
        h.update(tag + f"{value.dtype}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, torch.nn.Module):
        h.update(tag)
        _feed(h, dict(value.state_dict()))
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        h.update(tag)
        _feed(h, {f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    elif isinstance(value, Mapping):
        h.update(b"{")
        for k in sorted(value, key=str):
            _feed(h, str(k))
            _feed(h, value[k])
        h.update(b"}")
    elif isinstance(value, (list, tuple)):
        h.update(b"[")
        for v in value:
            _feed(h, v)
        h.update(b"]")
    else:  # a setting that cannot be keyed must fail loudly, not share wrong results
        raise TypeError(f"Cannot key a job on a {type(value).__name__}; pass plain data.")


def job_key(kind: str, settings: Mapping) -> str:
    """What determines a job's result, as a short string: kind, settings, data, seed, code version."""
    h = hashlib.blake2b(digest_size=16)
    _feed(h, [kind, code_version(), settings])
    return f"{kind}:{h.hexdigest()}"


# ---------------------------------------------------------------- jobs and viewers
@dataclasses.dataclass
class Spec:
    kind: str
    key: str
    work: Work
    settings: Mapping = dataclasses.field(default_factory=dict)  # what the key was made of (for estimates)
    estimate: float | None = None  # seconds alone on this server, if known (core.estimates)
    local: bool = False  # must run in this process (e.g. it uses models compiled once per server)
    resumable: bool = False  # a stopped run keeps its state and an identical submit resumes it;
    #                          its (finished) result is True once it has reached its end
    remote_work: Callable[[], Work] | None = None  # builds the work to ship at each start (default: work)
    on_update: Callable[[Any], None] | None = None  # applies progress(..., update=) payloads here
    finish: Callable[[Any, str], Any] | None = None  # (result, error) -> the result kept
    state: Any = None  # a live object the viewers read while it runs (a training run's Trainer)


class Execution:
    """One computation, shared by every viewer that asked for the same key."""

    CHECK_VIEWERS_S = 0.25  # how often should_stop asks whether any browser tab still watches

    def __init__(self, spec: Spec):
        self.spec, self.key, self.kind, self.settings = spec, spec.key, spec.kind, spec.settings
        self.id = uuid.uuid4().hex[:8]
        self.state = "new"  # queued, running, done, stopped, failed
        self.fraction, self.text = 0.0, "Waiting for a free slot..."
        self.result: Any = None
        self.error = ""
        self.started = self.finished = 0.0
        self.worker = ""  # where it runs: "here" or a Ray worker's pid
        self.runs = 0  # starts, resumes included
        self.viewers: dict[int, Callable[[], bool]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._anchor = (0.0, 0.0)  # (fraction, seconds since start) at the last progress change
        self._watched = (0.0, True)
        self._shared_s = 0.0  # seconds running x jobs running meanwhile (for its mean share of the cores)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.alive

    def watched(self) -> bool:
        """Is any viewer still connected? Checked at most every CHECK_VIEWERS_S."""
        now = time.monotonic()
        if now - self._watched[0] >= self.CHECK_VIEWERS_S:
            self._watched = (now, any(alive() for alive in list(self.viewers.values())))
        return self._watched[1]

    def should_stop(self) -> bool:
        return self._stop.is_set() or not self.watched()

    def progress(self, fraction: float, text: str, update: Any = None) -> None:
        if update is not None and self.spec.on_update is not None:
            self.spec.on_update(update)
        if fraction != self.fraction and self.started:
            self._anchor = (fraction, time.monotonic() - self.started)
        self.fraction, self.text = fraction, text

    def remaining(self, share: float = 1.0) -> float | None:
        """Seconds left: from its own progress rate once it has moved, else from its estimate."""
        if self.state == "queued":
            return None if self.spec.estimate is None else self.spec.estimate * share
        if self.state != "running":
            return 0.0
        elapsed = time.monotonic() - self.started
        f, at = self._anchor
        if f >= 0.01 and at > 0:
            return max(0.0, at * (1 - f) / f - (elapsed - at))
        if self.spec.estimate is not None:
            return max(0.0, self.spec.estimate * share - elapsed)
        return None


class Viewer:
    """One session's handle on an Execution: what the page reads, and its own Stop."""

    def __init__(self, executor: "Executor", execution: Execution, keep_going: Callable[[], bool]):
        self.executor, self.execution, self.keep_going = executor, execution, keep_going
        self.attached = True

    def __getattr__(self, name):  # state, fraction, text, result, error, kind, key, id, settings...
        execution = self.__dict__.get("execution")
        if execution is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(execution, name)

    @property
    def alive(self) -> bool:
        return self.attached and self.execution.alive

    @property
    def others(self) -> int:
        """Other sessions watching the same job."""
        return sum(1 for k in self.execution.viewers if k != id(self))

    def stop(self) -> None:
        """Stop watching; the job itself stops when no one else watches it."""
        self.executor.detach(self)

    def join(self, timeout: float | None = None) -> bool:
        return self.execution.join(timeout)

    def position(self) -> int | None:
        return self.executor.position(self.execution)

    def expected_start(self) -> float | None:
        return self.executor.expected_start(self.execution)

    def remaining(self) -> float | None:
        return self.execution.remaining(self.executor.share())


# ---------------------------------------------------------------- backends
class Embedded:
    """Threads in this process; the slots share this machine's cores."""

    remote = False

    def slots(self) -> int:
        return max(1, int(os.environ.get("CNNLAB_MAX_TRAINING_RUNS", "2")))

    def run(self, ex: Execution) -> Any:
        ex.worker = "here"
        return ex.spec.work(ex.progress, ex.should_stop)


class JobLost(CNNLabError):
    """The machine or process running a job went away."""


class RayBackend:
    """Each job is a Ray task (``max_retries=0``: a lost worker ends that job with a message)."""

    remote = True
    POLL_S = 0.2
    # A job sees Stop within 0.2 s and returns its state; a busy machine can take seconds to deliver
    # the flag. Past this the task is cancelled, and what it had not sent back is lost.
    STOP_GRACE_S = 10.0

    def __init__(self, address: str | None):
        import ray

        self.ray = ray
        if not ray.is_initialized():
            # The core package travels with every job, so workers compute with this server's code.
            ray.init(address=address, log_to_driver=False, runtime_env={"py_modules": [str(CORE)]})
        self.cpus = float(os.environ.get("CNNLAB_RAY_CPUS", "1"))
        self._task = ray.remote(_run_on_worker).options(num_cpus=self.cpus, max_retries=0)
        self.board = ray.remote(num_cpus=0)(_Board).remote()

    def slots(self) -> int:
        fixed = os.environ.get("CNNLAB_RAY_SLOTS")
        if fixed:
            return max(1, int(fixed))
        return max(1, int(self.ray.cluster_resources().get("CPU", 1) // self.cpus))

    def run(self, ex: Execution) -> Any:
        if ex.spec.local:
            return Embedded.run(self, ex)  # type: ignore[arg-type]
        ray = self.ray
        work = ex.spec.remote_work() if ex.spec.remote_work else ex.spec.work
        ref = self._task.remote(ex.id, work, self.board, torch.get_num_threads())
        stop_sent = None
        try:
            while True:
                ready, _ = ray.wait([ref], timeout=self.POLL_S)
                self._drain(ex)
                if ready:
                    break
                if stop_sent is None and ex.should_stop():
                    self.board.stop.remote(ex.id)
                    stop_sent = time.monotonic()
                elif stop_sent is not None and time.monotonic() - stop_sent > self.STOP_GRACE_S:
                    ray.cancel(ref, force=True)
                    raise JobLost(f"The Ray worker did not stop within {self.STOP_GRACE_S:.0f} s, so it was cancelled;"
                                  " what it had sent back is kept, but it cannot resume. Start the job again.")
            self._drain(ex)
            return ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            return None
        except ray.exceptions.RayTaskError as err:
            cause = err.cause
            raise (cause if isinstance(cause, CNNLabError) else RuntimeError(f"{type(cause).__name__}: {cause}"))
        except ray.exceptions.RayError as err:  # worker or node died, object lost...
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise JobLost(f"The Ray worker running this job stopped ({type(err).__name__}{': ' + first if first else ''})."
                          " Nothing else was lost; start the job again.") from None
        finally:
            self.board.forget.remote(ex.id)

    def _drain(self, ex: Execution) -> None:
        for item in self.ray.get(self.board.take.remote(ex.id)):
            if item[0] == "worker":
                ex.worker = f"Ray worker pid {item[1]}"
            else:
                ex.progress(*item[1:])


class _Board:
    """A Ray actor: progress items from running tasks, and the Stop flags they poll."""

    def __init__(self):
        self.items: dict[str, list] = {}
        self.stops: set[str] = set()

    def put(self, job: str, item: tuple) -> None:
        self.items.setdefault(job, []).append(item)

    def take(self, job: str) -> list:
        return self.items.pop(job, [])

    def stop(self, job: str) -> None:
        self.stops.add(job)

    def stopped(self, job: str) -> bool:
        return job in self.stops

    def forget(self, job: str) -> None:
        self.items.pop(job, None)
        self.stops.discard(job)


def _run_on_worker(job: str, work: Work, board, threads: int):
    """The Ray task: the same work with the server's thread count (so the same seed gives the same
    floats), progress sent to the board, Stop read from it (every 0.2 s at most)."""
    import ray

    torch.set_num_threads(threads)
    board.put.remote(job, ("worker", os.getpid()))
    last = [0.0, False]

    def should_stop() -> bool:
        now = time.monotonic()
        if now - last[0] >= 0.2:
            last[0], last[1] = now, ray.get(board.stopped.remote(job))
        return last[1]

    def progress(fraction: float, text: str, update: Any = None) -> None:
        board.put.remote(job, ("progress", fraction, text, update))

    return work(progress, should_stop)


# ---------------------------------------------------------------- the executor
class Executor:
    def __init__(self, backend=None, cache_size: int | None = None, ttl_s: float | None = None):
        self.backend = backend or Embedded()
        self.cache_size = cache_size if cache_size is not None else int(os.environ.get("CNNLAB_JOB_CACHE", "32"))
        self.ttl_s = ttl_s if ttl_s is not None else float(os.environ.get("CNNLAB_JOB_TTL_S", "7200"))
        self._cond = threading.Condition()
        self._jobs: OrderedDict[str, Execution] = OrderedDict()  # live and finished, least recent first
        self._queue: list[Execution] = []
        self._running: list[Execution] = []
        self._changed = time.monotonic()  # when _running last changed
        self._slots = None
        # Off (CNNLAB_SHARE_JOBS=0): every submit is its own job, as before sharing (the bench compares).
        self.sharing = os.environ.get("CNNLAB_SHARE_JOBS", "1") != "0"

    @property
    def remote(self) -> bool:
        return self.backend.remote

    def slots(self) -> int:
        if self._slots is None:
            self._slots = self.backend.slots()
        return self._slots

    def share(self) -> float:
        """How many jobs a new one would share this machine's cores with (1 on a cluster)."""
        if self.remote:
            return 1.0
        with self._cond:
            return float(min(self.slots(), len(self._running) + 1))

    def submit(self, spec: Spec, keep_going: Callable[[], bool] = lambda: True) -> Viewer:
        """Attach to the job with this key (running, finished, or stopped and resumable) or start it."""
        if not self.sharing:
            spec = dataclasses.replace(spec, key=f"{spec.key}:{uuid.uuid4().hex[:8]}")
        with self._cond:
            self._evict()
            ex = self._jobs.get(spec.key)
            if ex is None or ex.state == "failed" or (ex.state == "stopped" and not ex.spec.resumable):
                ex = Execution(spec)
                self._jobs[spec.key] = ex
            self._jobs.move_to_end(spec.key)
            viewer = Viewer(self, ex, keep_going)
            ex.viewers[id(viewer)] = keep_going
            ex._watched = (0.0, True)
            if ex.state in ("new", "stopped") and not ex.alive:
                self._start(ex)
        return viewer

    def find(self, key: str) -> Execution | None:
        """The job with this key that a submit would attach to, if any."""
        with self._cond:
            ex = self._jobs.get(key)
            return None if ex is None or ex.state == "failed" else ex

    def attach(self, viewer: Viewer) -> None:
        """Watch again (and resume a stopped resumable job)."""
        with self._cond:
            ex = viewer.execution
            ex.viewers[id(viewer)] = viewer.keep_going
            viewer.attached = True
            ex._watched = (0.0, True)
            if ex.state == "stopped" and ex.spec.resumable and not ex.alive:
                self._jobs[ex.key] = ex
                self._start(ex)

    def detach(self, viewer: Viewer) -> None:
        with self._cond:
            ex = viewer.execution
            ex.viewers.pop(id(viewer), None)
            viewer.attached = False
            if not ex.viewers:
                ex._stop.set()
            self._cond.notify_all()

    def position(self, ex: Execution) -> int | None:
        """1 for the next job to start; None when not waiting."""
        with self._cond:
            return self._queue.index(ex) + 1 if ex in self._queue else None

    def expected_start(self, ex: Execution) -> float | None:
        """Seconds until a waiting job starts: slots free as running jobs finish (their own ETA)
        and as the jobs ahead run for their estimate. None if any of those is unknown."""
        with self._cond:
            if ex not in self._queue:
                return None
            slots, share = self.slots(), (1.0 if self.remote else float(self.slots()))
            free = [r.remaining(share) for r in self._running]
            if any(t is None for t in free):
                return None
            free = sorted(free + [0.0] * max(0, slots - len(free)))[:slots] or [0.0]
            heapq.heapify(free)
            for q in self._queue:
                at = heapq.heappop(free)
                if q is ex:
                    return at
                if q.spec.estimate is None:
                    return None
                heapq.heappush(free, at + q.spec.estimate * share)
        return None

    def jobs(self) -> list[Execution]:
        with self._cond:
            return list(self._jobs.values())

    # ---------------------------------------------------------------- internals
    def _start(self, ex: Execution) -> None:
        ex.state, ex.error = "queued", ""
        ex.runs += 1
        ex.text = "Waiting for a free slot..."
        ex._stop.clear()
        self._queue.append(ex)
        ex._thread = threading.Thread(target=self._run, args=(ex,), name=f"cnnlab-job-{ex.kind}-{ex.id}", daemon=True)
        ex._thread.start()

    def _evict(self) -> None:
        """Drop finished jobs past the TTL, then the least recently used past the cache size."""
        now = time.monotonic()
        finished = [k for k, e in self._jobs.items() if e.state in ("done", "stopped") and not e.alive]
        for k in finished:
            if now - self._jobs[k].finished > self.ttl_s:
                del self._jobs[k]
        finished = [k for k in finished if k in self._jobs]
        for k in finished[:max(0, len(finished) - self.cache_size)]:
            del self._jobs[k]

    def _run(self, ex: Execution) -> None:
        with self._cond:
            while not (self._queue[0] is ex and len(self._running) < self.slots()):
                if ex.should_stop():
                    self._queue.remove(ex)
                    ex.error = "Stopped while waiting for a free slot."
                    self._end(ex, "stopped")
                    return
                self._cond.wait(0.2)
            self._queue.pop(0)
            self._count_sharing()
            self._running.append(ex)
            ex.state, ex.started, ex.text, ex._anchor = "running", time.monotonic(), "Starting...", (0.0, 0.0)
            self._cond.notify_all()
        result, error = None, ""
        try:
            result = self.backend.run(ex)
        except CNNLabError as err:
            error = str(err)
        except Exception as err:  # a bug or out-of-memory ends this job with a message, not the app
            error = f"The job failed: {type(err).__name__}: {err}"
        if ex.spec.finish is not None:
            try:
                result = ex.spec.finish(result, error)
            except Exception as err:
                error = error or f"The job failed: {type(err).__name__}: {err}"
        with self._cond:
            self._count_sharing()
            self._running.remove(ex)
            ex.result, ex.error = result, error
            stopped = ex._stop.is_set() or not ex.watched()
            if error:
                state = "failed"
            elif (result is not True) if ex.spec.resumable else stopped:
                state = "stopped"
            else:
                state = "done"
                ex.fraction = 1.0
            self._end(ex, state)
        seconds = ex.finished - ex.started
        if state == "done" and ex.runs == 1 and seconds > 0:  # a resumed run's time is not one job's time
            from core import estimates

            share = 1.0 if self.remote else ex._shared_s / seconds
            estimates.observe(ex.kind, ex.spec.settings, seconds, share)

    def _count_sharing(self) -> None:
        """Under the lock, before _running changes: each running job shared the cores with all of
        them since the last change."""
        now = time.monotonic()
        for r in self._running:
            r._shared_s += (now - self._changed) * len(self._running)
        self._changed = now

    def _end(self, ex: Execution, state: str) -> None:
        """Under the lock: record the end; a failed or partial job is not kept for others."""
        ex.state, ex.finished = state, time.monotonic()
        if (state == "failed" or (state == "stopped" and not ex.spec.resumable)) and self._jobs.get(ex.key) is ex:
            del self._jobs[ex.key]
        self._cond.notify_all()


def spec_for(kind: str, settings: Mapping, work: Work | None = None) -> Spec:
    """The Spec of a job kind from core.jobs, keyed and estimated from its settings. ``work`` is
    for kinds whose work the page supplies (core.jobs.Kind.run is None)."""
    import functools

    from core import estimates, jobs

    k = jobs.KINDS[kind]
    if work is None:
        work = functools.partial(jobs.run, kind, settings)  # pickles as the kind's name and its settings
    return Spec(kind, job_key(kind, settings), work, settings=settings, estimate=estimates.alone(kind, settings),
                local=k.local)


_executor: Executor | None = None
_executor_lock = threading.Lock()


def executor() -> Executor:
    """The process-wide executor: Ray when CNNLAB_RAY_ADDRESS is set, else threads here."""
    global _executor
    with _executor_lock:
        if _executor is None:
            address = os.environ.get("CNNLAB_RAY_ADDRESS", "").strip()
            _executor = Executor(RayBackend(address) if address else None)
        return _executor


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def waiting_text(viewer: Viewer) -> str:
    """'Waiting for a free slot: 2nd in line, starting in about 40 s.'"""
    where, start = viewer.position(), viewer.expected_start()
    line = f"Waiting for a free slot: {_ordinal(where)} in line" if where else "Waiting for a free slot"
    return line + (f", starting in about {format_seconds(start)}." if start is not None else
                   " (its start depends on jobs with no time estimate yet).")


def status_text(viewer: Viewer) -> str:
    """The progress line of a job: its own text, or its place in the queue; and its live ETA."""
    if viewer.state == "queued":
        return waiting_text(viewer)
    left = viewer.remaining()
    return viewer.text + (f" · about {format_seconds(left)} left" if left is not None else "")


def format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes >= 10 else f"{minutes:.1f} min"
