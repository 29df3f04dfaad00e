"""The bias lab's default view (before its train button) is a lesson: at the default 100% cue every
training image it previews sits on its own class's background colour, as the text says ("every shape
class owns a background colour"), and the classes are balanced; with the cue at 0% the colour says
nothing about the class."""
from functools import partial

import numpy as np

from core import shortcut
from tests.pages import apptest
from tests.pages.apptest import captions

PAGE = "pages/wild.py"
open_page = partial(apptest.open_page, PAGE)
RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])  # NTSC


def _background_class(ds) -> np.ndarray:
    """The class whose hue (YIQ angle) is nearest each image's background colour."""
    hues = shortcut.class_hues(len(ds.class_names))
    nearest = []
    for img, mask in zip(ds.images, ds.masks):
        _, i, q = RGB_TO_YIQ @ np.median(img[~mask] / 255.0, axis=0)
        turn = (np.arctan2(q, i) / (2 * np.pi)) % 1
        nearest.append(int(np.argmin(np.abs((hues - turn + 0.5) % 1 - 0.5))))
    return np.array(nearest)


def test_the_preview_at_the_default_cue_puts_every_class_on_its_own_colour():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    assert at.slider(key="wild_cue").value == 100
    shown = shortcut.make_biased_shapes(10, 1.0, seed=7)
    names = [shown.class_names[k] for k in shown.labels]
    assert captions(at)[:10] == names  # the preview is this set, in this order
    assert (_background_class(shown) == shown.labels).all()
    assert (np.bincount(shown.labels, minlength=5) == 2).all()  # balanced: the colour is the only shortcut


def test_without_the_cue_the_colour_says_nothing_about_the_class():
    ds = shortcut.make_biased_shapes(200, 0.0, seed=7)
    assert np.mean(_background_class(ds) == ds.labels) < 0.35  # about 1 in 5, chance
