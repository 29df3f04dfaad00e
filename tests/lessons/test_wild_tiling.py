"""The tiling lab's default view is a lesson: the stitched map is near the true one, and the numbers
next to it are measured against the true map, so a wrong map cannot read well."""
from functools import partial

from tests.pages import apptest

PAGE = "pages/wild.py"
open_page = partial(apptest.open_page, PAGE)


def _metrics(at) -> dict[str, float]:
    return {m.label: float(m.value.rstrip("%")) / (100 if m.value.endswith("%") else 1) for m in at.metric
            if m.label.startswith(("Pixel accuracy", "Mean IoU"))}


def test_the_default_map_is_near_the_true_map_and_the_threshold_moves_it():
    at = open_page()
    assert not at.exception and not at.error
    default = _metrics(at)
    assert default["Mean IoU against the true map"] >= 0.5  # everything background: 0.16
    assert default["Pixel accuracy (background included)"] >= 0.9
    at.slider(key="wild_minconf").set_value(0.95).run()
    strict = _metrics(at)
    assert strict != default and strict["Mean IoU against the true map"] < default["Mean IoU against the true map"]
    at.slider(key="wild_minconf").set_value(0.3).run()
    at.radio(key="wild_stitch").set_value("mean").run()  # averaging dilutes shapes cut by a tile's border
    assert _metrics(at)["Mean IoU against the true map"] < default["Mean IoU against the true map"]
    at.radio(key="wild_stitch").set_value("max").run()
    at.toggle(key="wild_localise").set_value(False).run()  # scores spread over whole tiles: a coarser map
    assert _metrics(at)["Mean IoU against the true map"] < default["Mean IoU against the true map"] - 0.1
