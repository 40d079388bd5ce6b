"""Decode image files into RGB and serve labelled samples to a DataLoader."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from PIL import Image
from torch.utils.data import Dataset

from inception_tl.errors import DataError


def load_rgb(path: str) -> Image.Image:
    """Open `path` as an RGB image; transparent pixels are composited onto white, not black."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
                image = image.convert("RGBA")
                background = Image.new("RGBA", image.size, (255, 255, 255, 255))
                return Image.alpha_composite(background, image).convert("RGB")
            return image.convert("RGB")
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(f"Cannot read image {path}: {error}") from error


class LabelledImages(Dataset):
    """A list of (path, label) pairs, decoded and transformed on access.

    Indexed by an int (random transforms draw from torch's global generator) or by (index, seed), as
    `ResumableShuffleSampler` yields: the transform then draws from its own generator seeded by `seed`.
    """

    def __init__(self, samples: Sequence[tuple[str, int]], transform: Callable) -> None:
        self.samples = list(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int]:
        index, seed = key if isinstance(key, tuple) else (key, None)
        path, label = self.samples[index]
        image = load_rgb(path)
        if seed is None:
            return self.transform(image), label
        # torchvision's random transforms draw from torch's CPU generator: fork it, seed it, restore it.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.transform(image), label
