"""Neural architecture search in miniature: sample small CNNs from a search space, train each for
the same short budget, and keep the ones no other candidate beats on both accuracy and cost (the
Pareto front). Random search and a simple evolutionary search (mutate one choice of a good parent,
as AmoebaNet-style searches do at scale) share the same budget. The task is scikit-learn's
handwritten digits at 16x16: small enough that a candidate trains in one to five seconds, hard
enough that the tiniest nets fall short.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from core.data import load_digits
from core.errors import CNNLabError
from core.profile import profile_module
from core.scaling import TinyCNN, build
from core.training import accuracy, dataset_tensor, fit

SPACE = {"depth": (1, 2, 3), "width": (4, 8, 16, 24), "kernel": (3, 5), "separable": (False, True)}
SIZE = 16
MAX_TRIALS = 30
EPOCHS = 4  # the same for every candidate: about 1-5 s each on 2 CPU cores
N_TRAIN = 1300  # of the 1,797 digits; the rest are the test set
STRATEGIES = ("random", "evolutionary")


@dataclass(frozen=True)
class Candidate:
    depth: int
    width: int
    kernel: int
    separable: bool

    def net(self) -> TinyCNN:
        return TinyCNN(width=self.width, depth=self.depth, resolution=SIZE, separable=self.separable, stages=3,
                       classes=10, kernel=self.kernel)

    @property
    def label(self) -> str:
        return (f"d{self.depth} w{self.width} k{self.kernel}" + (" sep" if self.separable else ""))


@dataclass
class Trial:
    candidate: Candidate
    accuracy: float
    macs: int
    params: int
    seconds: float

    def row(self) -> dict:
        return {**asdict(self.candidate), "architecture": self.candidate.label, "accuracy": self.accuracy,
                "MACs": self.macs, "params": self.params, "seconds": self.seconds}


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points (cost, score) that no other point dominates: none is at most as costly
    and at least as good while strictly better in one. Lower cost and higher score are better;
    returned in order of rising cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -np.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def sample(rng: np.random.Generator) -> Candidate:
    return Candidate(*(SPACE[k][rng.integers(len(SPACE[k]))] for k in ("depth", "width", "kernel", "separable")))


def mutate(parent: Candidate, rng: np.random.Generator) -> Candidate:
    """The parent with one choice changed to a different value from the space."""
    key = ("depth", "width", "kernel", "separable")[rng.integers(4)]
    options = [v for v in SPACE[key] if v != getattr(parent, key)]
    fields = asdict(parent)
    fields[key] = options[rng.integers(len(options))]
    return Candidate(**fields)


def evaluate(candidate: Candidate, data, *, epochs: int, seed: int) -> Trial:
    (x, y), (xt, yt) = data
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = build(candidate.net())
    fit(model, (x, y), (xt[:64], yt[:64]), epochs=epochs, lr=5e-3, batch_size=32, seed=seed, flip=False)
    with torch.device("meta"):
        prof = profile_module(build(candidate.net()), SIZE)
    return Trial(candidate, accuracy(model, xt, yt), prof.total_macs, prof.total_params, time.perf_counter() - start)


def search_data(seed: int = 0):
    """Train and test tensors: the digits at 16x16, grey repeated to the 3 channels the nets take,
    split at random (seeded) into N_TRAIN and the rest."""
    ds = load_digits(SIZE)
    x = dataset_tensor(ds, SIZE, (0.5,), (0.5,)).expand(-1, 3, -1, -1).contiguous()
    y = torch.from_numpy(ds.labels)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(y)))
    train, test = order[:N_TRAIN], order[N_TRAIN:]
    return (x[train], y[train]), (x[test], y[test])


def search(strategy: str, trials: int, *, seed: int = 0, epochs: int = EPOCHS, population: int = 4,
           progress: Callable[[float, str], None] = lambda f, t: None,
           should_stop: Callable[[], bool] = lambda: False) -> list[Trial]:
    """Run a search of ``trials`` distinct candidates. Evolutionary: ``population`` random ones
    first, then each new candidate mutates a parent picked by a tournament of two among the best."""
    if strategy not in STRATEGIES:
        raise CNNLabError(f"Unknown search strategy {strategy!r}; choose from {', '.join(STRATEGIES)}.")
    space_size = int(np.prod([len(v) for v in SPACE.values()]))
    if not 1 <= trials <= min(MAX_TRIALS, space_size):
        raise CNNLabError(f"Trials must be 1 to {MAX_TRIALS} (got {trials}); each one trains a network for "
                          f"{epochs} epochs, and the space has {space_size} architectures.")
    rng = np.random.default_rng(seed)
    data = search_data(seed)
    done: list[Trial] = []
    seen: set[Candidate] = set()
    misses = 0  # repeats in a row: once the good parents' neighbours are all tried, sample afresh
    while len(done) < trials and not should_stop():
        if strategy == "random" or len(done) < population or misses > 20:
            cand = sample(rng)
        else:
            ranked = sorted(done, key=lambda t: -t.accuracy)[:max(population, len(done) // 2)]
            a, b = rng.choice(len(ranked), 2, replace=len(ranked) < 2)
            cand = mutate(ranked[min(a, b)].candidate, rng)
        if cand in seen:
            misses += 1
            continue
        misses = 0
        seen.add(cand)
        progress(len(done) / trials, f"Trial {len(done) + 1} of {trials}: training {cand.label}...")
        done.append(evaluate(cand, data, epochs=epochs, seed=seed))
    return done
