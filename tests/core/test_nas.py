"""Architecture search: the Pareto front, the search space moves, and a short seeded search."""
import numpy as np
import pytest

from core import nas
from core.errors import CNNLabError


def test_pareto_front_of_known_points():
    points = [(10, 0.50), (20, 0.70), (15, 0.40), (30, 0.70), (40, 0.90), (25, 0.65), (10, 0.45), (50, 0.85)]
    # (15, .40) and (10, .45) lose to (10, .50); (30, .70) ties (20, .70) at a higher cost; (25, .65) loses to
    # (20, .70); (50, .85) loses to (40, .90).
    assert nas.pareto_front(points) == [0, 1, 4]
    assert nas.pareto_front([]) == []
    assert nas.pareto_front([(5, 0.3)]) == [0]


def test_mutation_changes_exactly_one_choice_within_the_space():
    rng = np.random.default_rng(0)
    parent = nas.Candidate(2, 8, 3, False)
    for _ in range(50):
        child = nas.mutate(parent, rng)
        diffs = [k for k in nas.SPACE if getattr(child, k) != getattr(parent, k)]
        assert len(diffs) == 1 and getattr(child, diffs[0]) in nas.SPACE[diffs[0]]


def test_candidates_build_with_their_kernel_and_separable_convs():
    from torch import nn

    from core.scaling import build

    net = build(nas.Candidate(1, 8, 5, True).net())
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert any(c.kernel_size == (5, 5) and c.groups == c.in_channels > 1 for c in convs)


def test_bad_settings_are_refused():
    with pytest.raises(CNNLabError, match="Trials must be 1 to 30"):
        nas.search("random", 31)
    with pytest.raises(CNNLabError, match="Unknown search strategy"):
        nas.search("bayesian", 2)


@pytest.mark.slow
def test_a_short_search_is_reproducible_and_finds_a_sensible_front():
    a = nas.search("evolutionary", 6, seed=3)
    b = nas.search("evolutionary", 6, seed=3)
    assert [t.candidate for t in a] == [t.candidate for t in b]
    assert [t.accuracy for t in a] == [t.accuracy for t in b]
    assert len({t.candidate for t in a}) == 6  # distinct candidates
    best = max(t.accuracy for t in a)
    assert best > 0.9  # digits are easy for the right net
    front = nas.pareto_front([(t.macs, t.accuracy) for t in a])
    assert a[front[-1]].accuracy == best and a[front[0]].macs == min(t.macs for t in a)
