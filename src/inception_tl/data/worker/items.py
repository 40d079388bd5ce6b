"""What a loader worker does per image: read its stored pixels and work out how the device finishes it (the
training warp drawn from the image's seed, or the evaluation crop box), or serve its cached features.

Workers only slice bytes and do a little arithmetic on a few numbers; the float work on pixels happens on the
training device (`device/`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from inception_tl.data.store import ImageStore, StorageSpec
from inception_tl.data.worker.augment import Augment, draw_parameters, output_to_source
from inception_tl.data.worker.colour_draws import draw_colour, draw_erase
from inception_tl.data.worker.eval_crop import eval_crop_box
from inception_tl.errors import DataError


def index_and_seed(key: int | tuple[int, int]) -> tuple[int, int | None]:
    """(index, seed) from what `ResumableShuffleSampler` yields, (index, None) from a plain index."""
    return key if isinstance(key, tuple) else (key, None)


class SplitImages(Dataset):
    """One split: `items[i]` is {image: uint8 (H, W, 3) pixels at their storage size, label, index} plus, when
    augmenting, the warp to the training crop and its `size`, else the evaluation crop `box` (`device.resize`).

    The pixels stay as stored (height, width, channel; a view into the cache's memory map): they are copied
    once, into the batch, and the device reads them channels-last (`device.batch_transform`). Turning each
    image into (3, H, W) here cost 300 µs an image on a CPU core, more than everything else a worker does.

    Indexed by an int or by (index, seed), as `ResumableShuffleSampler` yields: the warp is then drawn from a
    generator seeded by `seed`, so an epoch's augmentations depend on nothing else.
    """

    def __init__(
        self,
        store: ImageStore,
        positions: Sequence[int],
        labels: Sequence[int],
        size: int,
        resize: int,
        augment: Augment | None,
    ) -> None:
        self.store, self.positions, self.labels = store, list(positions), list(labels)
        self.size, self.resize, self.augment = size, resize, augment

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, seed = index_and_seed(key)
        pixels = self.store.read(self.positions[index])
        return image_item(pixels, self.labels[index], index, self.size, self.resize, self.augment, seed)


def image_item(
    pixels: np.ndarray,
    label: int | list[int],
    index: int,
    size: int,
    resize: int,
    augment: Augment | None,
    seed: int | None,
) -> dict[str, Any]:
    """An image at its storage size as a batch holds it (`collate_images`): with its evaluation crop box, or (when
    augmenting) the warp, colour and erasing drawn from a generator seeded by `seed` (None: one from torch's)."""
    item: dict[str, Any] = {"image": pixels, "label": label, "index": index}
    if augment is None:
        item["box"] = eval_crop_box(*pixels.shape[:2], resize, size)
        return item
    if seed is None:  # indexed without a sampler's seed: draw one from torch's generator
        seed = int(torch.randint(2**62, ()).item())
    rng = np.random.default_rng(seed)
    parameters = draw_parameters(rng, *pixels.shape[:2], size, augment)
    item["warp"] = output_to_source(parameters, size)
    item["size"] = size
    if augment.colours:  # drawn after the warp, from the same generator
        item["colour"] = draw_colour(rng, augment)
    if augment.erase > 0:
        item["erase"] = draw_erase(rng, augment.erase, size)
        item["seed"] = seed
    return item


class FilesToPredict(Dataset):
    """Image files outside any dataset (`predict.py`), decoded at the storage size as the cache would hold them:
    `items[i]` is {image, label -1, index, box, error None}, or for a file that cannot be read {index, error}."""

    def __init__(self, paths: Sequence[Path], spec: StorageSpec, size: int) -> None:
        self.paths, self.spec, self.size = [str(path) for path in paths], spec, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Any]:
        try:
            pixels = self.spec.decode(self.paths[index])
        except DataError as error:
            return {"index": index, "error": str(error)}
        return item_to_predict(pixels, index, self.spec, self.size)


def item_to_predict(pixels: np.ndarray, index: int, spec: StorageSpec, size: int) -> dict[str, Any]:
    """A decoded image at its storage size as a prediction batch holds it (`collate_files`), its evaluation crop
    worked out: the same for a file (predict.py) and an upload (serve.py)."""
    box = eval_crop_box(*pixels.shape[:2], spec.shorter_side, size)
    return {"image": pixels, "label": -1, "index": index, "box": box, "error": None}


class FeatureSplit(Dataset):
    """A split's pooled backbone features (computed once, see `training.callbacks.feature_cache`)."""

    def __init__(self, features: torch.Tensor, labels: Sequence[int | Sequence[int]]) -> None:
        self.features, self.labels = features, torch.as_tensor(list(labels), dtype=torch.long)  # (N) or (N, C)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, _ = index_and_seed(key)
        return {"features": self.features[index], "label": self.labels[index].tolist(), "index": index}

    def __getitems__(self, keys: Sequence[int | tuple[int, int]]) -> dict[str, torch.Tensor]:
        # The DataLoader fetches a whole batch in one call: one indexing op, no per-item Python.
        indices = torch.tensor([index_and_seed(key)[0] for key in keys], dtype=torch.long)
        return {"features": self.features[indices], "labels": self.labels[indices], "indices": indices}
