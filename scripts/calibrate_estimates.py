"""Fit the job-time model behind the buttons' estimates: writes assets/job_costs.json.

For every job kind, two small real runs (core.estimates.samples, scales 1 and 3, each after one
untimed warm-up) give a line cpu_seconds = fixed + per_unit x units. CPU seconds (all threads of
this process) hardly move when other programs load the machine, so the fit holds on a busy
server; the probe's CPU seconds are stored with it, and a server turns the line into wall
seconds with its own probe on the wall clock (core.estimates.speed). About 10 minutes on 2 cores.

    python scripts/calibrate_estimates.py [KIND ...]
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("CNNLAB_OFFLINE", "1")

from core import estimates, jobs  # noqa: E402


def cpu_seconds(run) -> float:
    start = time.process_time()
    run(lambda *a: None, lambda: False)
    return time.process_time() - start


def main(kinds: list[str]) -> None:
    samples = estimates.samples()
    probe = round(estimates.probe_seconds(time.process_time), 5)
    for kind in kinds or list(samples):
        points = []
        for scale in (1, 3):
            settings, run = samples[kind](scale)
            if scale == 1:
                run(lambda *a: None, lambda: False)  # warm-up: first imports and allocations are not the job's
            points.append((jobs.KINDS[kind].units(settings), cpu_seconds(run)))
        (u1, t1), (u3, t3) = points
        per_unit = max(0.0, (t3 - t1) / (u3 - u1))
        fit = {"fixed_s": round(max(0.0, t1 - per_unit * u1), 4), "per_unit_s": float(f"{per_unit:.4g}"),
               "runs": [[round(u, 3), round(t, 3)] for u, t in points]}
        print(f"{kind:14s} units {u1:10.1f} -> {t1:6.2f} CPU s, {u3:10.1f} -> {t3:6.2f} CPU s", flush=True)
        save(kind, fit, probe)


def save(kind: str, fit: dict, probe: float) -> None:
    """Merge one kind into the file (kinds may be calibrated by several processes at once: CPU
    seconds do not mind)."""
    out = json.loads(estimates.COSTS_FILE.read_text()) if estimates.COSTS_FILE.exists() else {"kinds": {}}
    out.setdefault("probe_cpu_s", probe)
    out["kinds"][kind] = fit
    out["measured"] = f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, scripts/calibrate_estimates.py"
    estimates.COSTS_FILE.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
