"""Fit the job-time model behind the buttons' estimates: writes assets/job_costs.json.

For every job kind, two small real runs (core.estimates.samples, scales 1 and 3) give a line
seconds = fixed + per_unit x units; the probe (core.estimates.probe_seconds) timed alongside
lets another server scale the line by its own speed; each run is timed between two probes, so
its seconds are scaled to the load the reference probe saw. A few minutes on 2 busy cores.

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


def timed(run) -> tuple[float, float]:
    """(seconds, probe seconds around the run): the probe tells how loaded the machine was."""
    before = estimates.probe_seconds()
    start = time.perf_counter()
    run(lambda *a: None, lambda: False)
    seconds = time.perf_counter() - start
    return seconds, (before + estimates.probe_seconds()) / 2


def main(kinds: list[str]) -> None:
    samples = estimates.samples()
    out = estimates.costs() if estimates.COSTS_FILE.exists() else {"kinds": {}}
    probe = out.get("probe_s") or estimates.probe_seconds()
    for kind in kinds or list(samples):
        points = []
        for scale in (1, 3):
            settings, run = samples[kind](scale)
            seconds, load = timed(run)
            # In reference seconds: as if the machine had been as loaded as when `probe` was timed.
            points.append((jobs.KINDS[kind].units(settings), seconds * probe / load))
        (u1, t1), (u3, t3) = points
        per_unit = max(0.0, (t3 - t1) / (u3 - u1))
        out["kinds"][kind] = {"fixed_s": round(max(0.0, t1 - per_unit * u1), 4), "per_unit_s": float(f"{per_unit:.4g}"),
                              "runs": [[round(u, 3), round(t, 3)] for u, t in points]}
        print(f"{kind:14s} units {u1:10.1f} -> {t1:6.2f} s, {u3:10.1f} -> {t3:6.2f} s", flush=True)
        out["probe_s"] = probe
        out["measured"] = f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, scripts/calibrate_estimates.py"
        estimates.COSTS_FILE.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
