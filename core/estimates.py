"""Time estimates for the job buttons, only from runs measured on this server.

When a job finishes here, its seconds per work unit are kept for its kind and variant (core.jobs:
units are images x epochs, trials, steps x pixels...; the variant is the network or backbone),
divided by the number of jobs that shared the cores with it meanwhile. A button's estimate is the
last such rate x the new job's units x the jobs it would share the cores with now. Before a run of
that kind and variant has finished here there is no estimate and the label carries no number: the
running job's live ETA, from its own progress, covers it (core.executor.Execution.remaining).
"""
from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping

from core import jobs

_lock = threading.Lock()
_rates: dict[tuple[str, Hashable], float] = {}  # (kind, variant) -> seconds per unit, alone on the cores


def size(kind: str, settings: Mapping) -> jobs.Size | None:
    """(variant, units) of a job, or None for a kind without a size or settings that are not its own
    (a training run started outside the Training Monitor)."""
    k = jobs.KINDS.get(kind)
    if k is None or k.size is None:
        return None
    try:
        return k.size(settings)
    except (KeyError, TypeError, AttributeError):
        return None


def alone(kind: str, settings: Mapping) -> float | None:
    """Seconds the job would take with the cores to itself, from the last run here; None before one."""
    measured = size(kind, settings)
    if measured is None:
        return None
    with _lock:
        rate = _rates.get((kind, measured[0]))
    return None if rate is None else rate * measured[1]


def estimate(kind: str, settings: Mapping, share: float = 1.0) -> float | None:
    """Seconds the job would take now, sharing the cores ``share`` ways; None without a measurement."""
    seconds = alone(kind, settings)
    return None if seconds is None else seconds * share


def observe(kind: str, settings: Mapping, seconds: float, share: float) -> None:
    """A run of the kind finished here in ``seconds``, sharing the cores ``share`` ways on average."""
    measured = size(kind, settings)
    if measured is None or measured[1] <= 0 or seconds <= 0:
        return
    with _lock:
        _rates[(kind, measured[0])] = seconds / max(1.0, share) / measured[1]


def describe(seconds: float | None, share: float = 1.0) -> str:
    """'about 40 s here, from the last run' (and the jobs it would share the cores with), or ''."""
    if seconds is None:
        return ""
    from core.executor import format_seconds

    others = round(share) - 1
    sharing = f", sharing the cores with {others} other job{'s' if others > 1 else ''}" if others >= 1 else ""
    return f"about {format_seconds(seconds)} here, from the last run{sharing}"
