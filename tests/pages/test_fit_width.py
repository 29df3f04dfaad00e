"""A strip-shaped upload keeps the page a sane height: photo-sized pictures are stretched to their column
unless they are more than twice as tall as wide: those are shown at most 720 px high (ui.fit_width)."""
import numpy as np

from core import ui


def test_a_tall_strip_keeps_its_own_size_and_everything_else_fills_the_column():
    assert ui.fit_width(np.zeros((1024, 1, 3), np.uint8)) == 1  # a 3x4000 upload, downscaled: 1 x 720 px
    assert ui.fit_width(np.zeros((1024, 511, 3), np.uint8)) == 359  # shown 720 px high
    assert ui.fit_width(np.zeros((300, 100, 3), np.uint8)) == 100  # already short: its own size
    assert ui.fit_width(np.zeros((1024, 512, 3), np.uint8)) == "stretch"
    assert ui.fit_width(np.zeros((1, 1024, 3), np.uint8)) == "stretch"  # a wide strip is short anyway
    assert ui.fit_width(np.zeros((1, 1), np.uint8)) == "stretch"


def test_a_strip_too_narrow_for_its_caption_gets_the_caption_below_as_text():
    from streamlit.testing.v1 import AppTest

    def app():
        import numpy as np
        import streamlit as st

        from core import ui

        ui.picture(st, np.zeros((1024, 1, 3), np.uint8), "a thin strip")  # drawn 1 px wide
        ui.picture(st, np.zeros((64, 64, 3), np.uint8), "a photo")

    at = AppTest.from_function(app).run()
    assert not at.exception
    assert [c for img in at.image for c in img.captions] == ["", "a photo"]
    assert [c.value for c in at.caption] == ["a thin strip"]
