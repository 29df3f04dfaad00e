"""The Mixer lab's default run (4,000 training images, the page's only setting) is a lesson: the small
CNN beats the MLP-Mixer with fewer parameters, by a margin no coin flip gives."""
import pytest

from core import jobs


@pytest.mark.slow
def test_the_default_run_shows_convolution_winning_on_little_data():
    cnn, mix = jobs.run("mixer", {"n_train": 4000}, lambda *a: None, lambda: False)  # what the page's button runs
    assert cnn.params < mix.params
    assert cnn.accuracy >= 0.6 and cnn.accuracy > mix.accuracy + 0.2  # measured: 0.741 vs 0.413 (chance 0.2)
