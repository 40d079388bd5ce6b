"""Colour, policy and erasing parameters, drawn per image in the loader worker from the image's own generator
(after its warp, so the same seed gives the same image), and applied per batch on the device
(`device/colour_ops.py`).

- Colour jitter: torchvision's `ColorJitter` ranges (a factor in [max(0, 1 - b), 1 + b] for brightness, contrast
  and saturation; a hue shift in [-h, h] of a turn), applied in that fixed order (torchvision shuffles it per
  image); greyscale with its probability.
- A policy in the spirit of TrivialAugment ("wide"): `policy_ops` operations per image, each picked uniformly
  with a strength picked uniformly from 31 levels, from its colour operations: identity, brightness,
  contrast, colour, sharpness, posterize, solarize, autocontrast. Its geometric operations (rotate, shear,
  translate) are the warp's (`augment.py`); equalize is left out.
- Random erasing: timm's `RandomErasing` rules (one box, 2% to 1/3 of the image, aspect 0.3 to 3.3, ten tries),
  filled with normal noise on the normalised image (timm's `pixel` mode).
"""

from __future__ import annotations

import math

import numpy as np

from inception_tl.data.options import AugmentPolicy

# The parameter vector each augmented image carries, in this order; `IDENTITY` changes nothing.
COLOUR_FIELDS = (
    "brightness",
    "contrast",
    "saturation",
    "hue",
    "greyscale",
    "policy_brightness",
    "policy_contrast",
    "policy_color",
    "policy_sharpness",
    "policy_posterize",  # bits kept, 0: off
    "policy_solarize",  # threshold, 2: off (nothing is above it)
    "policy_autocontrast",  # 1: on
)
IDENTITY = (1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 2.0, 0.0)
POLICY_OPS = ("identity", "brightness", "contrast", "color", "sharpness", "posterize", "solarize", "autocontrast")
LEVELS = 31  # TrivialAugmentWide's magnitude bins
# timm's RandomErasing defaults.
ERASE_AREA = (0.02, 1 / 3)
ERASE_LOG_ASPECT = (math.log(0.3), math.log(1 / 0.3))


def jitter(rng: np.random.Generator, amount: float) -> float:
    """A ColorJitter factor: uniform in [max(0, 1 - amount), 1 + amount]; 1 when the amount is 0."""
    return float(rng.uniform(max(0.0, 1 - amount), 1 + amount)) if amount > 0 else 1.0


def draw_colour(rng: np.random.Generator, augment) -> np.ndarray:
    """One image's colour parameters (`COLOUR_FIELDS`), from the options of `data.augment`."""
    values = dict(zip(COLOUR_FIELDS, IDENTITY, strict=True))
    values["brightness"] = jitter(rng, augment.brightness)
    values["contrast"] = jitter(rng, augment.contrast)
    values["saturation"] = jitter(rng, augment.saturation)
    values["hue"] = float(rng.uniform(-augment.hue, augment.hue)) if augment.hue > 0 else 0.0
    values["greyscale"] = float(rng.random() < augment.greyscale) if augment.greyscale > 0 else 0.0
    if augment.policy is AugmentPolicy.trivial:
        for _ in range(augment.policy_ops):
            operation = POLICY_OPS[int(rng.integers(len(POLICY_OPS)))]
            level = int(rng.integers(LEVELS)) / (LEVELS - 1)
            if operation in ("brightness", "contrast", "color", "sharpness"):
                sign = 1.0 if rng.random() < 0.5 else -1.0
                values[f"policy_{operation}"] *= 1.0 + sign * 0.99 * level
            elif operation == "posterize":
                values["policy_posterize"] = float(8 - round(6 * level))
            elif operation == "solarize":
                values["policy_solarize"] = 1.0 - level
            elif operation == "autocontrast":
                values["policy_autocontrast"] = 1.0
    return np.array([values[name] for name in COLOUR_FIELDS], dtype=np.float32)


def draw_erase(rng: np.random.Generator, probability: float, size: int) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the box to erase in the `size` x `size` training crop, (0, 0, 0, 0) for none:
    timm's `RandomErasing._erase`, one box."""
    if probability <= 0 or rng.random() >= probability:
        return 0, 0, 0, 0
    for _ in range(10):
        target = size * size * rng.uniform(*ERASE_AREA)
        aspect = math.exp(rng.uniform(*ERASE_LOG_ASPECT))
        height, width = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < width < size and 0 < height < size:
            return int(rng.integers(0, size - height)), int(rng.integers(0, size - width)), height, width
    return 0, 0, 0, 0
