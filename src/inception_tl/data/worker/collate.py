"""Batches as the loader workers hand them over: uint8 pixels on a common canvas and what the device needs to
finish each image (its size, and its warp or its evaluation crop box), or cached features."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from inception_tl.data.worker.eval_crop import needs_resampling


def canvas(images: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 (N, H, W, 3), channels last as stored: each image at the top left of the largest extent, its edges
    repeated into the rest (as a resampler clamps at an image's border; the evaluation crop gives those pixels
    no weight). One copy of each image's pixels, into the batch."""
    height, width = max(image.shape[0] for image in images), max(image.shape[1] for image in images)
    padded = [
        image
        if image.shape[:2] == (height, width)
        else np.pad(image, ((0, height - image.shape[0]), (0, width - image.shape[1]), (0, 0)), mode="edge")
        for image in images
    ]
    return torch.from_numpy(np.stack(padded))


def warp_thetas(items: Sequence[Mapping[str, Any]], canvas_h: int, canvas_w: int) -> torch.Tensor:
    """Each item's warp (output pixels -> source pixels) as the `affine_grid` theta of the canvas: normalised
    output coordinates to normalised canvas coordinates."""
    size = items[0]["size"]
    from_output = np.array([[size / 2, 0.0, size / 2], [0.0, size / 2, size / 2], [0.0, 0.0, 1.0]])
    to_canvas = np.array([[2 / canvas_w, 0.0, -1.0], [0.0, 2 / canvas_h, -1.0], [0.0, 0.0, 1.0]])
    thetas = np.stack([(to_canvas @ item["warp"] @ from_output)[:2] for item in items])
    return torch.from_numpy(thetas.astype(np.float32))


def collate_images(items: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
    """{images (N, H, W, 3) uint8, labels, indices, sizes} and, for training images, their warps (`thetas`), colour
    parameters and erased boxes when those are on; for the others their evaluation crop boxes (`boxes`) and
    `resampling` (see `worker.eval_crop.needs_resampling`)."""
    images = canvas([item["image"] for item in items])
    batch = {
        "images": images,
        "labels": torch.tensor([item["label"] for item in items], dtype=torch.long),
        "indices": torch.tensor([item["index"] for item in items], dtype=torch.long),
        "sizes": torch.tensor([item["image"].shape[:2] for item in items], dtype=torch.long),
    }
    if "warp" in items[0]:
        batch["thetas"] = warp_thetas(items, *images.shape[1:3])
        if "colour" in items[0]:
            batch["colour"] = torch.from_numpy(np.stack([item["colour"] for item in items]))
        if "erase" in items[0]:
            batch["erase"] = torch.tensor([item["erase"] for item in items], dtype=torch.long)
            # A Python number (it travels as it is): the seed of the erased boxes' noise, from the first image's.
            batch["noise_seed"] = int(items[0]["seed"]) % 2**63
    else:
        boxes = [item["box"] for item in items]
        batch["boxes"] = torch.tensor(boxes, dtype=torch.long)
        # Python values (they travel as they are): which of the device's passes resample, which only cut.
        batch["resampling"] = needs_resampling([item["image"].shape[:2] for item in items], boxes)
    return batch


def collate_files(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`collate_images` of the readable files, with `failures`: file index -> why it could not be read."""
    readable = [item for item in items if item["error"] is None]
    batch: dict[str, Any] = collate_images(readable) if readable else {}
    batch["failures"] = {item["index"]: item["error"] for item in items if item["error"] is not None}
    return batch


def collate_features(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`FeatureSplit.__getitems__` already returns the batch."""
    return batch
