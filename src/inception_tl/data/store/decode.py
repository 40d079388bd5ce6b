"""Decode image files into upright 8-bit RGB, once, at the size training needs (the storage size)."""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps
from torchvision.transforms import functional as TF
from torchvision.transforms.functional import InterpolationMode

from inception_tl.data.preprocessing import resized_shape
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


def load_rgb(path: str | BinaryIO) -> Image.Image:
    """Open `path` (or a file's bytes) as an upright 8-bit RGB image; one PIL cannot decode is a DataError.

    PIL's decompression-bomb guard stays on: an image of absurd pixel count is refused, not decoded.
    """
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DataError(f"Cannot read image {path}: {error}") from error


def stored_shape(height: int, width: int, shorter_side: int, crop_mode: str = "center") -> tuple[int, int]:
    """(height, width) of an image once stored. `center`: the shorter side brought down to `shorter_side`, never
    up, exactly as torchvision's `Resize(shorter_side)` (timm's eval transform) would, so that resizing a stored
    image again to `shorter_side` is the identity. `squash` and `border`: the whole image in a square of that side.
    """
    if crop_mode != "center":
        return shorter_side, shorter_side
    if min(height, width) <= shorter_side:
        return height, width
    return resized_shape(height, width, shorter_side)


def keep_ratio_shape(height: int, width: int, longest_side: int) -> tuple[int, int]:
    """timm's `ResizeKeepRatio(longest_side, longest=1.0)`: the longer side to `longest_side`, the ratio kept."""
    ratio = max(height, width) / longest_side
    return round(height / ratio), round(width / ratio)


def border_offset(resized: int, side: int, crop: int) -> int:
    """Where a `resized`-pixel axis starts in the `side`-pixel square it is stored in, so that the device's centre
    crop of `crop` pixels (from round((side - crop) / 2)) equals timm's `CenterCropOrPad(crop)` of the axis: padded
    by (crop - resized) // 2 before when shorter than the crop, cut from round((resized - crop) / 2) when longer."""
    start = -((crop - resized) // 2) if resized < crop else round((resized - crop) / 2.0)
    return min(max(round((side - crop) / 2.0) - start, 0), side - resized)


def squared(
    image: Image.Image, side: int, crop: int, interpolation: str, crop_mode: str, fill: tuple[int, ...]
) -> Image.Image:
    """timm's `squash` (stretched to side x side) or `border` (the longer side to `side`, ratio kept, the rest
    `fill`) eval geometry, resized by PIL up or down: the whole image, in a square the device only cuts."""
    mode = InterpolationMode(interpolation)
    if crop_mode == "squash":
        return TF.resize(image, [side, side], interpolation=mode)
    height, width = keep_ratio_shape(image.height, image.width, side)
    resized = TF.resize(image, [height, width], interpolation=mode)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(resized, (border_offset(width, side, crop), border_offset(height, side, crop)))
    return canvas


def decode_for_storage(
    path: str | BinaryIO,
    shorter_side: int,
    interpolation: str,
    crop_mode: str = "center",
    crop: int = 0,
    fill: tuple[int, ...] = (0, 0, 0),
) -> np.ndarray:
    """The image at `path` as an (H, W, 3) uint8 array: with `center`, its shorter side at most `shorter_side`;
    with `squash` or `border` (timm's crop modes), the whole image in a `shorter_side` square, for a centre crop of
    `crop` pixels, the border `fill`ed.

    `center`: larger images are reduced exactly as timm's eval transform reduces them (torchvision's `Resize` on
    the PIL image), so its resize-and-crop of the stored image equals its resize-and-crop of the file; smaller
    ones are kept as they are (upscaling happens once, in the crop, never in storage).
    """
    image = load_rgb(path)
    if crop_mode != "center":
        return np.asarray(squared(image, shorter_side, crop, interpolation, crop_mode, fill))
    height, width = stored_shape(image.height, image.width, shorter_side)
    if (height, width) != (image.height, image.width):
        image = TF.resize(image, [height, width], interpolation=InterpolationMode(interpolation))
    return np.asarray(image)
