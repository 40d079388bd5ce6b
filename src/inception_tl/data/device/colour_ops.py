"""Colour, policy and erasing on the device, each image with its own parameters (drawn in the worker,
`worker/colour_draws.py`), a batch at a time.

kornia's functional ops take a factor per image: brightness (`adjust_brightness_accumulative`, torchvision's
multiplicative brightness), contrast and saturation (the `..._with_..._subtraction` variants, torchvision's
blends with the grey mean and the grey image), hue, sharpness, posterize and greyscale. Solarize and
autocontrast are written here: kornia's solarize refuses thresholds outside [0, 1] (2 marks "off" here), and
torchvision's autocontrast (each channel stretched to [0, 1], left alone when it is flat) has no batched
kornia equivalent.
"""

from __future__ import annotations

import math

import torch
from kornia.color import rgb_to_grayscale
from kornia.enhance import (
    adjust_brightness_accumulative,
    adjust_contrast_with_mean_subtraction,
    adjust_hue,
    adjust_saturation_with_gray_subtraction,
    posterize,
    sharpness,
)

from inception_tl.data.worker.colour_draws import COLOUR_FIELDS


def autocontrast(pixels: torch.Tensor) -> torch.Tensor:
    """torchvision's `autocontrast` per image and channel: stretched to [0, 1]; a flat channel is kept."""
    low = pixels.amin(dim=(-2, -1), keepdim=True)
    high = pixels.amax(dim=(-2, -1), keepdim=True)
    flat = high <= low
    scale = torch.where(flat, torch.ones_like(high), 1.0 / (high - low).clamp_min(1e-12))
    return torch.where(flat, pixels, ((pixels - low) * scale).clamp(0, 1))


def apply_colour(pixels: torch.Tensor, parameters: torch.Tensor) -> torch.Tensor:
    """Images (N, 3, H, W) in [0, 1] through each one's colour parameters (N, len(COLOUR_FIELDS)), in order:
    brightness, contrast, saturation, hue, greyscale, then the policy's operations."""
    p = {name: parameters[:, index].to(pixels.dtype) for index, name in enumerate(COLOUR_FIELDS)}
    per_image = (-1, 1, 1, 1)
    x = adjust_brightness_accumulative(pixels, p["brightness"])
    x = adjust_contrast_with_mean_subtraction(x, p["contrast"])
    x = adjust_saturation_with_gray_subtraction(x, p["saturation"])
    x = adjust_hue(x, p["hue"] * 2 * math.pi)
    x = torch.where(p["greyscale"].view(per_image) > 0.5, rgb_to_grayscale(x).expand_as(x), x)
    x = adjust_brightness_accumulative(x, p["policy_brightness"])
    x = adjust_contrast_with_mean_subtraction(x, p["policy_contrast"])
    x = adjust_saturation_with_gray_subtraction(x, p["policy_color"])
    x = sharpness(x, p["policy_sharpness"])
    bits = p["policy_posterize"]
    x = torch.where(bits.view(per_image) > 0, posterize(x, bits.clamp(1, 8).to(torch.int64)), x)
    threshold = p["policy_solarize"].view(per_image)
    x = torch.where(x < threshold, x, 1 - x)
    x = torch.where(p["policy_autocontrast"].view(per_image) > 0.5, autocontrast(x), x)
    return x.clamp(0, 1)


def erase(images: torch.Tensor, boxes: torch.Tensor, seed: int) -> torch.Tensor:
    """Each image's box (top, left, height, width; height 0: none) filled with normal noise, as timm's
    `RandomErasing(mode="pixel")` fills it on the normalised image; the noise comes from `seed`."""
    rows = torch.arange(images.shape[-2], device=images.device).view(1, -1, 1)
    columns = torch.arange(images.shape[-1], device=images.device).view(1, 1, -1)
    top, left, height, width = (boxes[:, index].view(-1, 1, 1) for index in range(4))
    inside = (rows >= top) & (rows < top + height) & (columns >= left) & (columns < left + width)
    generator = torch.Generator(device=images.device)
    generator.manual_seed(seed)
    noise = torch.randn(images.shape, generator=generator, device=images.device, dtype=images.dtype)
    return torch.where(inside.unsqueeze(1), noise, images)
