import io

import numpy as np
import pytest
from PIL import Image

from core.errors import CNNLabError
from core.images import MAX_SIDE, SAMPLE_PHOTOS, decode_image, sample_photo
from tests.inputs.images import BAD_IMAGES, encode


@pytest.mark.parametrize("case,make,message", BAD_IMAGES, ids=[c[0] for c in BAD_IMAGES])
def test_bad_files_raise_a_clear_error(case, make, message):
    with pytest.raises(CNNLabError) as err:
        decode_image(make())
    assert message in str(err.value)
    assert "Accepted: PNG, JPEG" in str(err.value)  # says what would work


def test_file_over_byte_limit_is_refused_before_decoding():
    with pytest.raises(CNNLabError, match="over the 1 MB limit"):
        decode_image(b"\x89PNG" + b"\0" * (2 * 2**20), max_bytes=2**20)


def test_rgb_png_round_trips_exactly():
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = decode_image(encode(Image.fromarray(rgb), "PNG"))
    assert out.pixels.dtype == np.uint8 and out.pixels.flags.c_contiguous
    np.testing.assert_array_equal(out.pixels, rgb)
    assert out.source_format == "PNG" and out.notes == []


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # no cyan, full magenta+yellow = red
    out = decode_image(encode(cmyk, "JPEG", quality=95)).pixels
    assert out.shape == (16, 16, 3)
    r, g, b = out.reshape(-1, 3).mean(0)
    assert r > 200 and g < 50 and b < 50


def test_rgba_transparency_goes_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2] = (255, 0, 0, 255)  # opaque red top half, fully transparent bottom half
    out = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    np.testing.assert_array_equal(out.pixels[0, 0], (255, 0, 0))
    np.testing.assert_array_equal(out.pixels[3, 3], (255, 255, 255))
    assert any("white" in n for n in out.notes)


def test_palette_image_keeps_its_colours_and_transparent_index():
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([0, 0, 0, 0, 128, 255] + [0] * 762)
    out = decode_image(encode(pal, "PNG")).pixels
    np.testing.assert_array_equal(out[0, 0], (0, 128, 255))
    pal.info["transparency"] = 1
    out = decode_image(encode(pal, "PNG", transparency=1)).pixels
    np.testing.assert_array_equal(out[0, 0], (255, 255, 255))


def test_16bit_grey_is_scaled_not_clipped():
    arr = np.array([[0, 32896, 65535]], dtype=np.uint16)
    out = decode_image(encode(Image.fromarray(arr), "PNG"))
    np.testing.assert_array_equal(out.pixels[0, :, 0], (0, 128, 255))
    assert np.all(out.pixels[..., 0] == out.pixels[..., 2])  # grey in all three channels
    assert any("16-bit" in n for n in out.notes)


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "lime", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    out = decode_image(buf.getvalue())
    np.testing.assert_array_equal(out.pixels[4, 4], (255, 0, 0))
    assert any("first of its 3 frames" in n for n in out.notes)


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20), "white")
    img.paste((255, 0, 0), (0, 0, 10, 20))  # red strip on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs 90 degrees clockwise
    out = decode_image(encode(img, "JPEG", exif=exif.tobytes(), quality=95))
    assert out.pixels.shape == (40, 20, 3)  # portrait after rotation
    assert out.pixels[2, 10, 0] > 200 and out.pixels[2, 10, 1] < 60  # left strip is now on top
    assert any("EXIF" in n for n in out.notes)


def test_one_pixel_image():
    out = decode_image(encode(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"))
    np.testing.assert_array_equal(out.pixels, [[[1, 2, 3]]])


def test_needle_thin_image_is_downscaled_to_at_least_one_pixel_wide():
    out = decode_image(encode(Image.new("RGB", (3, 4000), "green"), "PNG"))
    assert out.pixels.shape == (MAX_SIDE, 1, 3)
    assert out.source_size == (3, 4000)


def test_large_photo_is_downscaled_keeping_aspect():
    out = decode_image(encode(Image.new("RGB", (4000, 3000), (10, 200, 30)), "JPEG"))
    assert out.pixels.shape == (768, 1024, 3)
    assert abs(int(out.pixels[100, 100, 1]) - 200) < 5
    assert any("Downscaled from" in n for n in out.notes)


@pytest.mark.parametrize("mode", ["L", "1", "LA", "I;16", "F"])
def test_every_common_mode_gives_rgb_uint8(mode):
    img = Image.new(mode, (5, 7))
    out = decode_image(encode(img, "TIFF" if mode == "F" else "PNG")).pixels
    assert out.shape == (7, 5, 3) and out.dtype == np.uint8


@pytest.mark.parametrize("name", list(SAMPLE_PHOTOS))
def test_sample_photos_ship_offline(name):
    img = sample_photo(name)
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8
    assert max(img.shape[:2]) <= MAX_SIDE and img.std() > 10  # a real photo, not a blank


def test_unknown_sample_is_a_clear_error():
    with pytest.raises(CNNLabError, match="Unknown sample photo"):
        sample_photo("nope")
