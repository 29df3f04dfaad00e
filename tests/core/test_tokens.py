"""ViT patches: token counts, token contents and the quadratic attention term."""
import numpy as np

from core import tokens
from core.images import sample_photo, resize_to


def test_patches_are_the_image_cut_row_by_row():
    img = sample_photo("Coffee cup")
    patches = tokens.patch_tokens(img)
    assert patches.shape == (196, 16 * 16 * 3)
    small = resize_to(img, (224, 224))
    assert np.array_equal(patches[0].reshape(16, 16, 3), small[:16, :16])
    assert np.array_equal(patches[15].reshape(16, 16, 3), small[16:32, 16:32])  # row 2, column 2


def test_token_counts_and_attention_cost():
    assert tokens.vit_tokens(224) == 197 and tokens.vit_tokens(448) == 785
    assert tokens.attention_macs(224) == 2 * 12 * 197 ** 2 * 768
    ratio = tokens.attention_macs(448) / tokens.attention_macs(224)
    assert 15.5 < ratio < 16  # quadratic in the token count (the class token keeps it just under 16)


def test_patch_grid_is_drawn_on_a_square():
    grid = tokens.patch_grid(sample_photo("Rocket"))
    assert grid.shape == (448, 448, 3) and grid.dtype == np.uint8
    assert (grid[0, :] == 255).all()  # the top grid line
