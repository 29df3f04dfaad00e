"""`python -m bench lessons`: whether the default views teach the right thing, in numbers.

  pointing_game_scenes         share of (held-out scene, class present) trials where ShapesNet's Grad-CAM
                               at features.block4 peaks on that class's shapes (150 scenes of 1-5 shapes)
  pointing_game_scenes_centre  the same trials scored for a constant guess at the image centre
  pointing_game_scenes_random  the same trials scored for a uniformly random peak (seeded)
  tiling_miou                  mean IoU (background and 5 shapes) of the tiling lab's default stitched map
                               against the true map, mean over scene seeds 1-3 (768x1024, 96 px tiles,
                               50% overlap, score 0.3, CAM placement, the best tile per pixel)
  photo_max_shape_prob         ShapesNet's highest class probability over the 9 scikit-image sample photos
  shapes_ece                   ShapesNet's expected calibration error over every image-class pair of 3,000
                               held-out mixed images (15 bins)
  quiz_first_option_score      share of questions an always-first-option learner gets right (12 banks,
                               1,000 simulated sessions, options shuffled per session)
"""
from __future__ import annotations


def run(emit) -> None:
    import numpy as np

    from core import explain, quiz, scorecard, tiling
    from core.models import load_model

    shapes = load_model("shapesnet")
    spec = shapes.spec
    points = explain.pointing_game_scenes(shapes, scorecard.pointing_scenes(), spec.target_layer)
    emit("pointing_game_scenes", points.cam, "fraction")
    emit("pointing_game_scenes_centre", points.centre, "fraction")
    emit("pointing_game_scenes_random", points.random, "fraction")
    ious = []
    for seed in (1, 2, 3):
        scene = tiling.make_scene(768, 1024, seed=seed)
        labels = tiling.map_labels(tiling.classify_tiles(shapes, scene.image, 96, 0.5))
        ious.append(tiling.score_map(scene.labels, labels, len(shapes.class_names)).mean_iou)
    emit("tiling_miou", float(np.mean(ious)), "IoU")
    card = scorecard.measure(shapes.model, spec.input_size, spec.mean, spec.std)
    emit("photo_max_shape_prob", max(card.photo_max_prob.values()), "probability")
    emit("shapes_ece", card.ece, "ECE")
    emit("quiz_first_option_score", quiz.first_option_score(), "fraction")
