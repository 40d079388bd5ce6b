"""The report's class-activation maps: the most confidently wrong images and the most confident right ones of each
class, each with its map over the evaluation crop the model saw (`cam_mistakes.png`, `cam_per_class.png`).

Single-label: the map of the predicted class. Multi-label: one map per predicted label (a wrong label's map shows
what made the model say it; an image with no label predicted shows its most probable one).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from inception_tl.config.schema import CamMethod
from inception_tl.deploy.unit_images import unit_images
from inception_tl.errors import ConfigError
from inception_tl.evaluation.cam import activation_maps, choose_target
from inception_tl.evaluation.plots import image_grid
from inception_tl.evaluation.predictions import Predictions
from inception_tl.evaluation.report import most_confident_mistakes
from inception_tl.models import ImageClassifier


@dataclass(frozen=True)
class Explained:
    """One map to draw: image `index` of the split, explaining class `target`, titled `title`."""

    index: int
    target: int
    title: str


def labels_of(predictions: Predictions, index: int) -> list[int]:
    """The classes a map is drawn for: the prediction, or each predicted label (else the most probable)."""
    if not predictions.multi_label:
        return [int(predictions.predicted[index])]
    chosen = np.flatnonzero(predictions.predicted[index]).tolist()
    return chosen or [int(predictions.probabilities[index].argmax())]


def describe(predictions: Predictions, index: int, target: int) -> str:
    names = predictions.class_names
    probability = predictions.probabilities[index, target]
    if predictions.multi_label:
        truth = predictions.label_set(predictions.labels[index]) or "-"
        return f"true: {truth}\nmap of {names[target]} ({probability:.2f})"
    return f"true: {names[predictions.labels[index]]}\npredicted: {names[target]} ({probability:.2f})"


def wrong_images(predictions: Predictions, count: int) -> list[int]:
    if not predictions.multi_label:
        return most_confident_mistakes(predictions, count)
    wrong = np.flatnonzero((predictions.predicted != predictions.labels).any(axis=1))
    errors = np.abs(predictions.probabilities - predictions.labels).max(axis=1)
    return wrong[np.argsort(-errors[wrong], kind="stable")][:count].tolist()


def right_images(predictions: Predictions, per_class: int) -> list[tuple[int, int]]:
    """(image, class) pairs: the `per_class` most confident correct images of each class (multi-label: images
    where the label is both true and predicted)."""
    pairs = []
    for k in range(len(predictions.class_names)):
        if predictions.multi_label:
            found = np.flatnonzero((predictions.labels[:, k] > 0) & (predictions.predicted[:, k] > 0))
        else:
            found = np.flatnonzero((predictions.labels == k) & (predictions.predicted == k))
        order = np.argsort(-predictions.probabilities[found, k], kind="stable")
        pairs += [(int(index), k) for index in found[order][:per_class]]
    return pairs


def overlay(image: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """The map in a jet colour scale over the (H, W, 3) [0, 1] image."""
    from pytorch_grad_cam.utils.image import show_cam_on_image

    return show_cam_on_image(image.astype(np.float32), cam.astype(np.float32), use_rgb=True, image_weight=0.55)


def write_cam_report(
    model: ImageClassifier,
    predictions: Predictions,
    directory: Path,
    options: Mapping[str, Any],
    device: torch.device,
) -> str:
    """Compute and draw the maps; returns the line that says what was drawn and how long it took."""
    start = time.perf_counter()
    preprocessing = dict(model.hparams.preprocessing)
    size = preprocessing["input_size"][-1]
    method = CamMethod(options["method"])
    target = choose_target(model.to(device), size, options.get("layer"))
    wrong = [Explained(i, k, describe(predictions, i, k)) for i in wrong_images(predictions, options["mistakes"])
             for k in labels_of(predictions, i)]
    right = [Explained(i, k, describe(predictions, i, k)) for i, k in right_images(predictions, options["per_class"])]
    chosen = sorted({item.index for item in [*wrong, *right]})
    crops = dict(zip(chosen, batches(unit_images([predictions.paths[i] for i in chosen], preprocessing, 32)),
                     strict=True))
    everything = [*wrong, *right]
    maps = explain(model, [crops[item.index] for item in everything], [item.target for item in everything],
                   preprocessing, target, method, device)
    directory.mkdir(parents=True, exist_ok=True)
    for name, items, offset, empty in (("cam_mistakes.png", wrong, 0, "no misclassified images"),
                                       ("cam_per_class.png", right, len(wrong), "no correctly classified images")):
        drawn = [overlay(crops[item.index].transpose(1, 2, 0), maps[offset + n]) for n, item in enumerate(items)]
        image_grid(drawn, [item.title for item in items], directory / name, empty)
    seconds = time.perf_counter() - start
    return (f"Class-activation maps ({method.value}, stage {target.name}, {target.grid[0]} x {target.grid[1]}): "
            f"{len(everything)} maps in {seconds:.1f} s, {directory / 'cam_mistakes.png'} and cam_per_class.png")


def batches(found: Any) -> list[np.ndarray]:
    """The images of `unit_images`' batches, one by one."""
    return [image for batch in found for image in batch]


def explain(
    model: ImageClassifier,
    crops: Sequence[np.ndarray],
    classes: Sequence[int],
    preprocessing: Mapping[str, Any],
    target: Any,
    method: CamMethod,
    device: torch.device,
) -> np.ndarray:
    """Maps for [0, 1] crops (3, H, W), normalised here as the model's input."""
    if not crops:
        return np.empty((0, 1, 1))
    mean = torch.tensor(preprocessing["mean"], device=device).view(1, 3, 1, 1)
    std = torch.tensor(preprocessing["std"], device=device).view(1, 3, 1, 1)
    images = (torch.from_numpy(np.stack(crops)).to(device) - mean) / std
    return activation_maps(model, images, classes, target, method)


def write_file_maps(
    model: ImageClassifier, result: Any, root: Path, folder: Path, method: str, layer: str | None
) -> int:
    """predict.py's `cam=true`: an overlay PNG per classified file in `folder`, named by its path under `root`
    (the input folder): the map of its predicted class, or one panel per predicted label. Returns how many."""
    try:
        chosen_method = CamMethod(method)
    except ValueError:
        raise ConfigError(f"cam_method={method!r}: choose one of {[m.value for m in CamMethod]}.") from None
    preprocessing = dict(model.hparams.preprocessing)
    device = next(model.parameters()).device
    target = choose_target(model, preprocessing["input_size"][-1], layer)
    indices = sorted(result.probabilities)
    crops = batches(unit_images([result.paths[i] for i in indices], preprocessing, 32))
    written = 0
    for index, crop in zip(indices, crops, strict=True):
        probabilities = result.probabilities[index]
        if result.thresholds is not None:
            classes = np.flatnonzero(probabilities >= np.asarray(result.thresholds)).tolist()
            classes = classes or [int(probabilities.argmax())]
        else:
            classes = [int(probabilities.argmax())]
        maps = explain(model, [crop] * len(classes), classes, preprocessing, target, chosen_method, device)
        panels = [overlay(crop.transpose(1, 2, 0), cam) for cam in maps]
        path = result.paths[index]
        name = path.relative_to(root) if root.is_dir() else Path(path.name)
        destination = (folder / name).with_suffix(".png")
        destination.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.concatenate(panels, axis=1)).save(destination)
        written += 1
    return written
