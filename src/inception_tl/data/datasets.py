"""What the loader workers hand over: a split's images as uint8 pixels, or its cached backbone features.

Workers only slice stored pixels and draw each image's warp from its seed; the float arithmetic
(normalisation, resampling) happens on the training device (`batch_transform.BatchTransform`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from inception_tl.data.augment import Augment, draw_parameters, output_to_source


class ImageStore(Protocol):
    """Images at their storage size, by position: decoded from files, or read from the decoded-image cache."""

    def read(self, position: int) -> np.ndarray: ...


def index_and_seed(key: int | tuple[int, int]) -> tuple[int, int | None]:
    """(index, seed) from what `ResumableShuffleSampler` yields, (index, None) from a plain index."""
    return key if isinstance(key, tuple) else (key, None)


class SplitImages(Dataset):
    """One split: `items[i]` is {image: uint8 (3, H, W), label, index} (+ warp and size when augmenting).

    Indexed by an int or by (index, seed), as `ResumableShuffleSampler` yields: the warp is then drawn
    from a generator seeded by `seed`, so an epoch's augmentations depend on nothing else.
    Without augmentation an image is timm's eval crop (`crop`), in uint8.
    """

    def __init__(
        self,
        store: ImageStore,
        positions: Sequence[int],
        labels: Sequence[int],
        size: int,
        crop: Callable[[Image.Image], torch.Tensor],
        augment: Augment | None = None,
    ) -> None:
        self.store, self.positions, self.labels = store, list(positions), list(labels)
        self.size, self.crop, self.augment = size, crop, augment

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, seed = index_and_seed(key)
        pixels = self.store.read(self.positions[index])
        item: dict[str, Any] = {"label": self.labels[index], "index": index}
        if self.augment is None:
            item["image"] = self.crop(Image.fromarray(pixels))
            return item
        if seed is None:  # indexed without a sampler's seed: draw one from torch's generator
            seed = int(torch.randint(2**62, ()).item())
        parameters = draw_parameters(np.random.default_rng(seed), *pixels.shape[:2], self.size, self.augment)
        item["image"] = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
        item["warp"] = output_to_source(parameters, self.size)
        item["size"] = self.size
        return item


class FeatureSplit(Dataset):
    """A split's pooled backbone features (computed once, see `finetune.feature_cache`), served as batches."""

    def __init__(self, features: torch.Tensor, labels: Sequence[int]) -> None:
        self.features, self.labels = features, torch.as_tensor(list(labels), dtype=torch.long)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, _ = index_and_seed(key)
        return {"features": self.features[index], "label": int(self.labels[index]), "index": index}

    def __getitems__(self, keys: Sequence[int | tuple[int, int]]) -> dict[str, torch.Tensor]:
        # The DataLoader fetches a whole batch in one call: one indexing op, no per-item Python.
        indices = torch.tensor([index_and_seed(key)[0] for key in keys], dtype=torch.long)
        return {"features": self.features[indices], "labels": self.labels[indices], "indices": indices}


def collate_features(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`FeatureSplit.__getitems__` already returns the batch."""
    return batch
