"""Deployment: three runtimes rebuilt from their files compute the same logits."""
from core import deploy
from core.models import load_model


def test_three_runtimes_agree_and_are_timed():
    loaded = load_model("simplecnn_shapes")
    served = deploy.serve_all(loaded.model, 32)
    assert [s.name for s in served] == list(deploy.RUNTIMES)
    rows = deploy.compare(served, 32, rounds=5)
    assert rows[0]["speed vs eager"] == 1.0 and rows[0]["max |diff| vs eager"] == 0.0
    for row in rows:
        assert row["latency ms"] > 0 and row["file MB"] > 0.05  # 15,333 float32 weights = 0.06 MB
        assert row["max |diff| vs eager"] < 1e-3
