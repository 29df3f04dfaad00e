"""The transforms lab: a v2 pipeline from settings, step by step, seeded, with clear errors."""
import numpy as np
import pytest

from core import transforms as T
from core.errors import CNNLabError
from core.images import sample_photo

PHOTO = T.working_photo(sample_photo("Cat (chelsea)"))  # 256 x 170


def test_steps_follow_the_settings_and_the_compose_line_matches():
    s = T.TransformSettings()
    steps = T.steps_on(PHOTO, s)
    names = [n for n, _, _, _ in steps]
    assert names == ["ToDtype", "Resize", "RandomResizedCrop", "RandomHorizontalFlip", "ColorJitter",
                     "RandomRotation", "RandomErasing", "Normalize"]
    shapes = {n: shape for n, _, _, shape in steps}
    assert shapes["ToDtype"] == (3, 170, 256) and shapes["Resize"] == (3, 160, 240)  # shorter side to 160
    assert shapes["Normalize"] == (3, 128, 128)
    line = T.compose_line(s)
    assert all(expr in line for _, expr, _, _ in steps) and line.startswith("v2.Compose([")


def test_seeded_runs_repeat_and_different_seeds_differ():
    s = T.TransformSettings()
    a, b = T.samples(PHOTO, s, 4), T.samples(PHOTO, s, 4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], a[1])  # each draw is a new augmentation
    c = T.samples(PHOTO, T.TransformSettings(seed=1), 4)
    assert not np.array_equal(a[0], c[0])


def test_off_steps_leave_the_photo_alone():
    s = T.TransformSettings(resize=0, resized_crop=0, hflip=0, jitter=0, hue=0, rotation=0, erasing=0, normalize=False)
    (name, _, picture, _), = T.steps_on(PHOTO, s)
    assert name == "ToDtype" and np.array_equal(picture, PHOTO)


@pytest.mark.parametrize("settings,image,message", [
    (T.TransformSettings(crop=500), PHOTO, "RandomCrop(500) needs an image at least 500x500"),
    (T.TransformSettings(resize=0, crop=2), np.zeros((1, 1, 3), np.uint8), "but it gets 1x1"),
    (T.TransformSettings(), np.zeros((3, 4000, 3), np.uint8), "too large"),
    (T.TransformSettings(resize=-1), PHOTO, "at least 1 pixel"),
    (T.TransformSettings(crop_scale=0.0), PHOTO, "smallest area share"),
    (T.TransformSettings(hflip=2.0), PHOTO, "probability must be between 0 and 1"),
])
def test_pipelines_that_cannot_run_say_why(settings, image, message):
    with pytest.raises(CNNLabError, match=message.replace("(", r"\(").replace(")", r"\)")):
        T.steps_on(image, settings)


def test_a_one_pixel_photo_still_runs():
    shapes = [shape for _, _, _, shape in T.steps_on(np.full((1, 1, 3), 200, np.uint8), T.TransformSettings())]
    assert shapes[0] == (3, 1, 1) and shapes[-1] == (3, 128, 128)
