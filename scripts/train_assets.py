"""Retrain the models shipped in assets/models/ (seeded; each under 10 minutes on 2 CPU cores).

    python scripts/train_assets.py            # every model
    python scripts/train_assets.py shapesnet  # one

Writes <key>.safetensors, <key>.json (metrics read by the app) and <key>.md (the model card).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import lesions, scorecard  # noqa: E402
from core.calibration import fit_temperature  # noqa: E402
from core.data import SHAPE_CLASSES  # noqa: E402
from core.models import ASSETS, REGISTRY, LoadedModel  # noqa: E402
from core.scenes import MIX, SINGLE_MIX, training_mix  # noqa: E402
from core.training import accuracy, fit_multilabel  # noqa: E402

# Seeds are disjoint so train, validation and test data never coincide (the shape models' held-out
# figures use core.scorecard.SEEDS, disjoint from these too).
SPLITS = {"train": 101, "val": 202, "test": 303}
MIX_PARTS = {"single": "one big shape per image (`core.data.make_shapes`)",
             "scene": "scenes of 1-5 shapes of 6-45 px anywhere, some drawn larger and shrunk, a quarter over "
                      "natural-looking pictures, with up to two flat distractors (`core.scenes.draw_scene`)",
             "empty": "a textured background with up to two flat distractors and no shape",
             "natural": "a procedural photo-like picture with no shape (`core.scenes.natural_image`)"}


def _task(mix: dict) -> tuple[str, str]:
    task = ("find every synthetic shape in an image (" + ", ".join(SHAPE_CLASSES) + "), one sigmoid per class, or "
            "none of them" + ("." if "scene" in mix else "; one shape per image at most."))
    return task, "`core.scenes.training_mix`: " + "; ".join(f"{share:.0%} {MIX_PARTS[k]}" for k, share in mix.items())


LESION_TASK = ("tell a brain volume with a synthetic lesion from a healthy one (healthy, lesion).",
               "`core.lesions.make_set`: nilearn's MNI152 T1 template resampled to 64^3, with random rotation "
               "(+/-6 deg), shift (+/-3 voxels), intensity scaling and noise; positives get a Gaussian blob "
               "(radius 3-7 voxels) at a random point inside the brain, bright anywhere or dark in bright tissue")
# The 32x32 SimpleCNN has no batch norm and sees small shapes at half resolution: it needs more data.
RECIPES = {  # point_weight: how much the loss also pulls each class's map onto its shapes (localisation_loss)
    "simplecnn_shapes": {"epochs": 25, "lr": 4e-3, "batch": 64, "train": 16000, "val": 3000, "mix": SINGLE_MIX,
                         "point_weight": 0.0},
    "shapesnet": {"epochs": 12, "lr": 6e-3, "batch": 64, "train": 14000, "val": 3000, "mix": MIX, "point_weight": 0.1},
    "lesion3d": {"epochs": 30, "lr": 1e-2, "batch": 8, "train": 1600, "val": 200, "test": 400},
}


def _mix(n: int, seed: int, mix: dict):
    return training_mix(n, seed=seed, mix=mix, workers=2)


def train_shapes(key: str, out_dir: Path) -> dict:
    """A shape model on the training mix (multi-label), then temperature-scaled on the validation mix
    (the temperature is folded into the last layer, so sigmoid(model(x)) is calibrated)."""
    recipe = RECIPES[key]
    spec = REGISTRY[key]
    torch.manual_seed(0)
    model = spec.build()
    images, targets, labels = _mix(recipe["train"], SPLITS["train"], recipe["mix"])
    x, y = scorecard.normalised(images, spec.input_size, spec.mean, spec.std), torch.from_numpy(targets)
    start = time.perf_counter()
    fit_multilabel(model, x, y, epochs=recipe["epochs"], lr=recipe["lr"], batch_size=recipe["batch"], seed=0,
                   labels=torch.from_numpy(labels), point_weight=recipe["point_weight"],
                   on_epoch=lambda e, loss: print(f"{key} epoch {e + 1}: loss {loss:.4f}", flush=True))
    seconds = time.perf_counter() - start
    vx, vy, _ = _mix(recipe["val"], SPLITS["val"], recipe["mix"])
    with torch.no_grad():
        logits = model(scorecard.normalised(vx, spec.input_size, spec.mean, spec.std))
    temperature = fit_temperature(logits, torch.from_numpy(vy))
    with torch.no_grad():
        model.fc.weight /= temperature
        model.fc.bias /= temperature
    return write_shapes_card(key, model, seconds, temperature, out_dir)


def write_shapes_card(key: str, model, seconds: float, temperature: float, out_dir: Path) -> dict:
    """Score a trained shape model on fresh held-out data (core.scorecard) and save it with its card."""
    from core import explain

    recipe, spec = RECIPES[key], REGISTRY[key]
    figures = scorecard.measure(model, spec.input_size, spec.mean, spec.std, mix=recipe["mix"])
    loaded = LoadedModel(spec, model.eval(), True, "training", spec.class_names)
    for p in model.parameters():
        p.requires_grad_(False)
    points = explain.pointing_game_scenes(loaded, scorecard.pointing_scenes(), spec.target_layer)
    card = _card_base(key, model, spec.input_size, list(SHAPE_CLASSES), _task(recipe["mix"]), recipe, seconds) | {
        "data": {"train": {"examples": recipe["train"], "seed": SPLITS["train"]},
                 "calibration": {"examples": recipe["val"], "seed": SPLITS["val"]},
                 "held_out_seeds": scorecard.SEEDS},
        "optimizer": f"Adam, one-cycle LR peak {recipe['lr']}, batch {recipe['batch']}, random horizontal flips; "
                     "loss: binary cross-entropy per class" + (
                         f", plus {recipe['point_weight']} x a localisation loss on the class maps (for each "
                         "present class, minus the log of its spatial softmax's share on the cells its shapes touch, "
                         "from the masks)"
                         if recipe["point_weight"] else ""),
        "temperature": round(temperature, 4),
        "scenes": "scene" in recipe["mix"],
        **figures.as_dict(),
        "pointing_game_scenes": {"method": points.method, "layer": points.layer, "trials": points.trials,
                                 "cam": round(points.cam, 4), "centre_guess": round(points.centre, 4),
                                 "random_peak": round(points.random, 4)},
    }
    _save(key, model, card, out_dir, spec.label)
    return card


def train_lesion(out_dir: Path) -> dict:
    key, recipe = "lesion3d", RECIPES["lesion3d"]
    torch.manual_seed(0)
    samples, tensors = {}, {}
    for name, seed in SPLITS.items():
        samples[name] = lesions.make_set(recipe[name], seed)
        tensors[name] = (lesions.as_batch([s.volume for s in samples[name]]),
                         torch.tensor([s.label for s in samples[name]]))
    model = lesions.Lesion3DNet()
    start = time.perf_counter()
    lesions.fit_lesion_net(model, samples["train"], epochs=recipe["epochs"], lr=recipe["lr"],
                           batch_size=recipe["batch"], seed=0, on_epoch=lambda e, loss: print(
                               f"{key} epoch {e + 1}: loss {loss:.3f} val {accuracy(model, *tensors['val']):.3f}",
                               flush=True))
    seconds = time.perf_counter() - start
    card = _card_base(key, model, lesions.GRID, list(lesions.CLASSES), LESION_TASK, recipe, seconds) | {
        "data": {name: {"examples": recipe[name], "seed": seed} for name, seed in SPLITS.items()},
        "optimizer": f"Adam, one-cycle LR peak {recipe['lr']}, batch {recipe['batch']}, random left-right flips; "
                     "loss: cross-entropy plus a per-cell BCE on lesion coverage",
        "val_accuracy": round(accuracy(model, *tensors["val"]), 4),
        "test_accuracy": round(accuracy(model, *tensors["test"]), 4),
        **_lesion_pointing(model, tensors["test"]),
    }
    _save(key, model, card, out_dir, "Lesion3DNet (3D CNN, synthetic lesions in MNI152)")
    return card


def _card_base(key: str, model, size: int, classes: list[str], task: tuple[str, str], recipe: dict,
               seconds: float) -> dict:
    return {"model": key, "architecture": type(model).__name__, "params": sum(p.numel() for p in model.parameters()),
            "input_size": size, "classes": classes, "task": task[0], "data_source": task[1],
            "epochs": recipe["epochs"], "train_seconds": round(seconds, 1), "torch": torch.__version__,
            "trained_on": str(date.today()), "command": f"python scripts/train_assets.py {key}"}


def _save(key: str, model, card: dict, out_dir: Path, label: str) -> None:
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out_dir / f"{key}.safetensors"))
    (out_dir / f"{key}.json").write_text(json.dumps(card, indent=2) + "\n")
    (out_dir / f"{key}.md").write_text(_card_markdown(label, card))


def _lesion_pointing(model, test) -> dict:
    """Share of held-out positives whose 3D Grad-CAM peak lies inside the lesion (the 3D pointing game)."""
    from core import explain
    from core.models import REGISTRY, LoadedModel

    samples = lesions.make_set(RECIPES["lesion3d"]["test"], SPLITS["test"])
    spec = REGISTRY["lesion3d"]
    loaded = LoadedModel(spec, model.eval(), True, "training", spec.class_names)
    hits = [bool(s.mask[lesions.peak(explain.cam(loaded, x[None], "Grad-CAM", spec.target_layer, 1))])
            for s, x in zip(samples, test[0]) if s.label == 1]
    return {"cam_pointing_game": round(sum(hits) / len(hits), 4)}


def _card_markdown(label: str, c: dict) -> str:
    body = _shapes_lines(c) if "scene_map" in c else _lesion_lines(c)
    dims = "x".join([str(c["input_size"])] * (3 if c["model"] == "lesion3d" else 2))
    return f"""# Model card: {label}

- **Architecture:** `{c['architecture']}`, {c['params']:,} parameters, input {dims}.
- **Task:** {c['task']}
{body}
- **Rebuild:** `{c['command']}` (seeded; torch {c['torch']}, {c['trained_on']}).
"""


def _shapes_lines(c: dict) -> str:
    pg = c["pointing_game_scenes"]
    photos = ", ".join(f"{name} {p:.2f}" for name, p in c["photo_max_prob"].items())
    seeds = ", ".join(f"{seed} for {what}" for what, seed in c["data"]["held_out_seeds"].items())
    below = sum(p < 0.5 for p in c["photo_max_prob"].values())
    return f"""- **Data:** {c['data_source']}. Training: {c['data']['train']['examples']:,} images (seed \
{c['data']['train']['seed']}); temperature fitted on {c['data']['calibration']['examples']:,} others (seed \
{c['data']['calibration']['seed']}); every figure below on fresh data from other seeds ({seeds}).
- **Training:** {c['epochs']} epochs, {c['optimizer']}; {c['train_seconds']} s on this machine's CPU. Calibrated by \
temperature scaling (T = {c['temperature']}, folded into the last layer, so `sigmoid(model(x))` is calibrated).
- **Single-shape accuracy:** {c['single_shape_accuracy']:.1%} (2,000 images, one shape each; the highest class must be it).
- **Scenes of 1-5 shapes, mean average precision:** {c['scene_map']:.3f} (1,000 scenes).
- **Expected calibration error:** {c['ece']:.3f} (15 bins, every image-class pair of 3,000 mixed images).
- **None of my classes:** on empty backgrounds the highest class probability is at most \
{c['empty_scene_p95_max_prob']:.2f} for 95% of them; on {below} of the 9 scikit-image photos (never seen in \
training) every class stays below 0.5 (highest class per photo: {photos}).
- **Pointing game on scenes** ({pg['method']} at `{pg['layer']}`, {pg['trials']} trials, one per class present; \
hit = the map's peak within 4 px of that class's shapes): {pg['cam']:.1%}, against {pg['centre_guess']:.1%} for a \
guess at the image centre and {pg['random_peak']:.1%} for a random peak.
- **Limits:** it knows five synthetic shapes drawn flat on textured or natural-looking backgrounds. On anything \
else it should answer "none of my classes"; a high score there means nothing. It is a teaching model, not a \
production tool."""


def _lesion_lines(c: dict) -> str:
    split = ", ".join(f"{name} {c['data'][name]['examples']} (seed {c['data'][name]['seed']})" for name in SPLITS)
    return f"""- **Data:** {c['data_source']}. Splits: {split}; the test split is held out from training and model selection.
- **Training:** {c['epochs']} epochs, {c['optimizer']}; {c['train_seconds']} s on this machine's CPU.
- **Held-out test accuracy:** {c['test_accuracy']:.1%} (validation {c['val_accuracy']:.1%}).
- **3D Grad-CAM pointing game** (held-out positives, Grad-CAM at `features.block4`, peak inside the lesion): \
{c['cam_pointing_game']:.1%}.
- **Limits:** it has only seen this synthetic task. On anything else it still answers with one of its
  classes, and that answer means nothing. It is a teaching model, not a diagnostic or production tool."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keys", nargs="*", help=f"models to retrain, from {list(RECIPES)} (default: all)")
    parser.add_argument("--out", type=Path, default=ASSETS)
    args = parser.parse_args()
    unknown = set(args.keys) - set(RECIPES)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; choose from {list(RECIPES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for key in args.keys or list(RECIPES):
        card = train_lesion(args.out) if key == "lesion3d" else train_shapes(key, args.out)
        figure = card.get("test_accuracy", card.get("single_shape_accuracy"))
        print(f"{key}: held-out accuracy {figure:.4f}, trained in {card['train_seconds']} s", flush=True)
    print(f"all done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
