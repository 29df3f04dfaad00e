"""core.cache's bounds: every model (VGG19's style features too) shares one LRU of MODEL_SLOTS."""
from core import cache, models, style


def test_models_share_one_lru_so_vgg19_gives_way(monkeypatch):
    loads = []
    monkeypatch.setattr(models, "load_model", lambda key: loads.append(key) or key)
    monkeypatch.setattr(style, "vgg19_features", lambda: loads.append("vgg19") or (None, "no weights here"))
    cache._model.clear()
    try:
        assert cache.style_features() == cache.style_features() == (None, "no weights here")
        others = [f"model{i}" for i in range(cache.MODEL_SLOTS)]
        for key in others:
            cache._model(key, False)
        cache._model(others[-1], False)  # still held
        assert loads == ["vgg19", *others]
        cache.style_features()  # evicted by the newer models: loaded again
        assert loads == ["vgg19", *others, "vgg19"]
    finally:
        cache._model.clear()
