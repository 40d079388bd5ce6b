"""Training augmentation as one geometric warp per image, drawn in the loader workers, applied on the device
(`device/batch_transform.py`).

A random resized crop, a horizontal flip and a random affine (rotation, shift, shear, zoom: the Keras
ImageDataGenerator recipe this project reproduces) are all maps of the plane, so their composition is
one 3 x 3 matrix per image. The loader workers draw it from the image's own seed (a pure function of
seed, epoch and sample, so resumed runs and any number of workers see the same augmentations) and
hand over uint8 pixels with the matrix; the device resamples the whole batch once. torchvision's transforms
resample twice (crop, then affine) on the CPU per image, and kornia's and torchvision's batch augmentations
draw parameters per batch from a global generator and expect every image of a batch at one size: neither
gives per-sample seeds or one warp.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inception_tl.data.options import AugmentPolicy, choice

# torchvision's RandomResizedCrop aspect-ratio range (and timm's).
CROP_RATIO = (3 / 4, 4 / 3)


@dataclass
class Augment:
    """The `data.augment` options, and their typed schema in the config (`schema.DataSchema`).

    `enabled=False` trains on the evaluation crop (no randomness at all; with `finetune=linear_probe`
    the backbone's features are then computed once, see `finetune.feature_cache`).
    """

    enabled: bool = True
    # Random resized crop: the fraction of the image's area kept (aspect ratio 3/4 to 4/3).
    crop_scale: list[float] = field(default_factory=lambda: [0.5, 1.0])
    hflip: float = 0.5
    # The Keras ImageDataGenerator's affine: degrees, fraction of the size, degrees, +- fraction of the scale.
    rotation: float = 15.0
    shift: float = 0.1
    shear: float = 5.0
    zoom: float = 0.1
    # Colour (torchvision's ColorJitter amounts: 0 is off; hue in turns, at most 0.5) and greyscale's probability.
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    greyscale: float = 0.0
    # trivial: `policy_ops` colour operations of random kind and strength per image (worker/colour_draws.py).
    policy: AugmentPolicy = AugmentPolicy.none
    policy_ops: int = 1
    # Random erasing's probability (timm's reprob): one box of noise per image.
    erase: float = 0.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> Augment:
        values = dict(values or {})
        if "crop_scale" in values:
            values["crop_scale"] = [float(v) for v in values["crop_scale"]]
        if "policy" in values:
            values["policy"] = choice(AugmentPolicy, values["policy"], "data.augment.policy")
        return cls(**values)

    @property
    def colours(self) -> bool:
        """Whether any colour operation is on (else the device skips them)."""
        amounts = (self.brightness, self.contrast, self.saturation, self.hue, self.greyscale)
        return any(amount > 0 for amount in amounts) or self.policy is not AugmentPolicy.none


def random_crop_box(
    rng: np.random.Generator, height: int, width: int, scale: Sequence[float]
) -> tuple[int, int, int, int]:
    """(top, left, height, width) of a random crop: torchvision's `RandomResizedCrop.get_params`, seeded.

    Ten tries at an area fraction in `scale` and a log-uniform aspect ratio in CROP_RATIO; if none
    fits, the central crop of the nearest allowed ratio.
    """
    area = height * width
    log_ratio = (math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1]))
    for _ in range(10):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target_area * aspect))
        h = round(math.sqrt(target_area / aspect))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    ratio = width / height
    if ratio < CROP_RATIO[0]:
        w, h = width, round(width / CROP_RATIO[0])
    elif ratio > CROP_RATIO[1]:
        h, w = height, round(height * CROP_RATIO[1])
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def _translation(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])


def affine_matrix(size: int, angle: float, shift: tuple[float, float], scale: float, shear: float) -> np.ndarray:
    """torchvision's `RandomAffine` as a forward map of `size` x `size` pixel coordinates: about the centre,
    rotate by `angle` degrees, shear along x by `shear` degrees, scale, then shift by `shift` pixels."""
    centre = size / 2
    a, s = math.radians(angle), math.radians(shear)
    rotate = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    shear_x = np.array([[1.0, math.tan(s), 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    zoom = np.diag([scale, scale, 1.0])
    return _translation(centre + shift[0], centre + shift[1]) @ rotate @ shear_x @ zoom @ _translation(-centre, -centre)


@dataclass(frozen=True)
class WarpParameters:
    """What was drawn for one image: its crop box, flip and affine (kept for tests and debugging)."""

    crop: tuple[int, int, int, int]
    flip: bool
    angle: float
    shift: tuple[float, float]
    scale: float
    shear: float


def draw_parameters(rng: np.random.Generator, height: int, width: int, size: int, augment: Augment) -> WarpParameters:
    """One image's augmentation, drawn in torchvision's order and ranges (shift in whole output pixels)."""
    crop = random_crop_box(rng, height, width, augment.crop_scale)
    flip = bool(rng.random() < augment.hflip)
    angle = float(rng.uniform(-augment.rotation, augment.rotation))
    max_shift = augment.shift * size
    shift = (float(round(rng.uniform(-max_shift, max_shift))), float(round(rng.uniform(-max_shift, max_shift))))
    scale = float(rng.uniform(1 - augment.zoom, 1 + augment.zoom))
    shear = float(rng.uniform(-augment.shear, augment.shear))
    return WarpParameters(crop, flip, angle, shift, scale, shear)


def output_to_source(parameters: WarpParameters, size: int) -> np.ndarray:
    """The 3 x 3 matrix taking output pixel coordinates to source-image pixel coordinates.

    Coordinates are continuous, the image spanning [0, width] x [0, height] (pixel centres at i + 0.5).
    Output = affine(flip(crop(source))), so a point of the output maps back through the inverse affine,
    the flip, then the crop's scaling and offset.
    """
    top, left, height, width = parameters.crop
    crop = np.array([[width / size, 0.0, left], [0.0, height / size, top], [0.0, 0.0, 1.0]])
    flip = np.array([[-1.0, 0.0, size], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) if parameters.flip else np.eye(3)
    affine = affine_matrix(size, parameters.angle, parameters.shift, parameters.scale, parameters.shear)
    return crop @ flip @ np.linalg.inv(affine)
