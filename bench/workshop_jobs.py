"""Workshop figures of the executor (`python -m bench workshop`): a room starting the same training,
and Ray's overhead. Kept apart from bench/workshop.py (the browser and replica figures).

Each session does what the Training Monitor's Start does for it: build its own model and Trainer
from the page's default settings, then a TrainingRun keyed like the page's (core.runs).

room_train_last_epoch1_s_{shared,unshared}  after one small untimed run (first-use costs: imports,
    thread pools), 10 sessions press Start on the page's default training at once, on a fresh
    embedded executor; seconds from the first press until the last session sees its first epoch
    finished. Shared: identical runs are one job. Unshared (CNNLAB_SHARE_JOBS=0): ten jobs queue
    for the slots, each running all its epochs, so the last starts when eight have finished.
ray_job_overhead  the page's default training cut to 2 epochs, on the embedded executor and
    through a local 2-CPU Ray cluster (its worker started by an earlier tiny job, as a cluster's
    are): Ray's wall time over the mean of the local runs before and after it.
"""
from __future__ import annotations

import os
import time

DEFAULT_IMAGES = 6000  # the page's defaults: 6,000 synthetic shapes, 20% validation, 32 px, SimpleCNN
PAGE_CONFIG = dict(arch="simplecnn", width=16, depth=2, dropout=0.0, optimizer="adam", lr=0.005, weight_decay=0.0,
                   batch_size=32, schedule="onecycle", epochs=10, patience=0, crop_padding=0, flip=True, jitter=0.0,
                   seed=0)


def _session_run(split, ds, n: int, epochs: int, name: str):
    from core.nets import build_net
    from core.runs import TrainingRun
    from core.training import TrainConfig, Trainer

    train, val, mean, std, _ = split
    cfg = TrainConfig(**(PAGE_CONFIG | {"epochs": epochs}))
    model = build_net(cfg.arch, len(ds.class_names), 3, width=cfg.width, depth=cfg.depth, seed=cfg.seed)
    key = {"data": {"source": ds.name, "limit": n, "val": 0.2, "size": 32, "channels": 3,
                    "classes": len(ds.class_names)}, "tensorboard": False, "wandb": False}
    return TrainingRun(name, Trainer(cfg, model, train, val, ds.class_names, mean, std), ds.name, key=key,
                       tensorboard=False)


def _data(n: int):
    from core.data import make_shapes
    from core.training import split_dataset

    ds = make_shapes(n, seed=2026)
    return split_dataset(ds, size=32, val_fraction=0.2, limit=n, seed=0), ds


def room_train_last_epoch1_s(share: bool, sessions: int = 10, n: int = DEFAULT_IMAGES, epochs: int = 10) -> float:
    """Seconds from `sessions` pressing Start at once on the default training until the last of
    them sees epoch 1 finished, on a fresh embedded executor with sharing on or off."""
    from core import executor as ex_mod

    split, ds = _data(n)
    os.environ["CNNLAB_SHARE_JOBS"] = "1" if share else "0"
    before, ex_mod._executor = ex_mod._executor, ex_mod.Executor()
    try:
        small, small_ds = _data(200)
        _timed(_session_run(small, small_ds, 200, 1, "warm-up"))  # first-use costs are no session's
        start = time.perf_counter()
        runs = []
        for i in range(sessions):
            run = _session_run(split, ds, n, epochs, f"session {i}")
            run.start()
            runs.append(run)
        seen: dict[int, float] = {}
        while len(seen) < sessions:
            for i, run in enumerate(runs):
                if i not in seen and (run.trainer.pos.epoch >= 1 or run.error):
                    seen[i] = time.perf_counter() - start
            time.sleep(0.05)
        for run in runs:
            run.stop()
        for run in runs:
            run.join(30)
        return max(seen.values())
    finally:
        ex_mod._executor = before
        del os.environ["CNNLAB_SHARE_JOBS"]


def ray_job_overhead(n: int = DEFAULT_IMAGES, epochs: int = 2) -> float:
    """Wall time of the same training run through a local Ray cluster over the embedded path's."""
    import ray

    from core import executor as ex_mod
    from core.executor import CORE

    split, ds = _data(n)
    small, small_ds = _data(200)
    before = ex_mod._executor
    local = []
    try:
        ex_mod._executor = ex_mod.Executor()
        _timed(_session_run(small, small_ds, 200, 1, "warm-up"))
        local.append(_timed(_session_run(split, ds, n, epochs, "local")))
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"py_modules": [str(CORE)]})
        ex_mod._executor = ex_mod.Executor(ex_mod.RayBackend(None))
        _timed(_session_run(small, small_ds, 200, 1, "warm-up on Ray"))
        run = _session_run(split, ds, n, epochs, "ray")
        on_ray = _timed(run)
        assert run.trainer.status == "finished", run.error
        ray.shutdown()  # its idle workers would otherwise share the cores with the second local run
        ex_mod._executor = ex_mod.Executor()
        local.append(_timed(_session_run(split, ds, n, epochs, "local again")))
    finally:
        ex_mod._executor = before
        ray.shutdown()
    return on_ray / (sum(local) / len(local))


def _timed(run) -> float:
    start = time.perf_counter()
    run.start()
    run.join()
    return time.perf_counter() - start
