"""Decode image files into RGB and serve labelled samples to a DataLoader."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from inception_tl.errors import DataError

# Greyscale modes with more than 8 bits per pixel: PIL's convert("RGB") clips them at 255 (all white).
WIDE_GREY_MODES = {"I;16": 8, "I;16L": 8, "I;16B": 8, "I;16N": 8, "I": 8}


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL image as 8-bit RGB, upright: EXIF orientation applied, 16-bit grey scaled (not clipped),
    transparency composited onto white (not black), CMYK and palette converted by PIL."""
    image = ImageOps.exif_transpose(image)
    if image.mode in WIDE_GREY_MODES:
        pixels = np.asarray(image).astype(np.int64) >> WIDE_GREY_MODES[image.mode]
        image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image).convert("RGB")
    return image.convert("RGB")


def load_rgb(path: str) -> Image.Image:
    """Open `path` as an upright 8-bit RGB image; a file PIL cannot decode is a DataError naming it.

    PIL's decompression-bomb guard stays on: an image of absurd pixel count is refused, not decoded.
    """
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
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
