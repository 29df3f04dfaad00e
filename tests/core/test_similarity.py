"""Similarity search: duplicates rank first, flipped and cropped copies find their source."""
import numpy as np
import pytest

from core import similarity
from core.images import SAMPLE_PHOTOS, sample_photo
from core.models import load_model


@pytest.fixture(scope="module")
def setup():
    model = load_model("shapesnet")
    gallery = similarity.build_gallery()
    return model, gallery, similarity.build_index(model, gallery)


def test_gallery_has_every_variant_of_every_source(setup):
    _, gallery, index = setup
    n_sources = len(SAMPLE_PHOTOS) + len(similarity.SCENE_SEEDS)
    assert len(gallery.source) == n_sources * len(similarity.VARIANTS) == index.embeddings.shape[0]
    assert gallery.images.shape[1:] == (similarity.THUMB, similarity.THUMB, 3)
    assert np.allclose(np.linalg.norm(index.embeddings, axis=1), 1, atol=1e-5)


def test_an_exact_duplicate_ranks_first_with_cosine_one(setup):
    model, gallery, index = setup
    for name in SAMPLE_PHOTOS:
        hits = index.search(similarity.embed(model, sample_photo(name)), 3)
        first = hits[0][0]
        assert gallery.source[first] == name and gallery.variant[first] == "original"
        assert hits[0][1] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name", list(SAMPLE_PHOTOS))
def test_fresh_flipped_and_cropped_copies_find_their_source_in_the_top_3(setup, name):
    model, gallery, index = setup
    img = sample_photo(name)
    h, w = img.shape[:2]
    queries = {"mirrored": img[:, ::-1],
               "cropped 70%": img[int(h * .1):int(h * .8), int(w * .25):int(w * .95)],
               "mirrored and cropped": img[int(h * .05):int(h * .9), int(w * .1):int(w * .95)][:, ::-1]}
    for label, query in queries.items():
        top3 = [gallery.source[i] for i, _ in index.search(similarity.embed(model, np.ascontiguousarray(query)), 3)]
        assert top3[0] == name and top3.count(name) >= 2, f"{label}: {top3}"


def test_search_is_sorted_and_projection_is_2d(setup):
    model, gallery, index = setup
    query = index.embeddings[7]
    hits = index.search(query, 10)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and hits[0][0] == 7
    xy, q = similarity.projection(index, query)
    assert xy.shape == (len(gallery.source), 2) and np.allclose(q, xy[7], atol=1e-4)


def test_resnet_embeddings_use_the_penultimate_layer():
    model = load_model("resnet18")  # random weights offline: only the shape is checked
    vec = similarity.embed(model, sample_photo("Rocket"))
    assert vec.shape == (512,) and np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
    assert not any(m._forward_hooks for m in model.model.modules())
