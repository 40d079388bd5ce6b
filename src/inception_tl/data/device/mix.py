"""Mixup and CutMix on the device, per training batch, with soft targets: timm's `Mixup` (mode "batch"), drawn
from a seeded generator.

timm's `Mixup` draws from NumPy's global generator, which a checkpoint does not hold: a resumed run would mix
other pairs with other weights. Here the draws (whether to mix, Mixup or CutMix, lambda, the box) come from a
generator the caller seeds per step (ImageClassifier seeds it from torch's step-seeded generator, see
training/callbacks/step_seed.py: a pure function of seed, epoch, batch and rank), in timm's order and rules:
`prob` of mixing a batch, `switch_prob` of CutMix when both are on, lambda ~ Beta(alpha, alpha), CutMix's box
from timm's `rand_bbox` and lambda corrected to the box's real area. Each image mixes with the batch's
mirror (image i with image N-1-i), as timm's batch mode does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from inception_tl.data.options import MixOptions


@dataclass(frozen=True)
class MixDraw:
    """One batch's draw: lambda (the share of each image's own label), and CutMix's box (rows y0:y1, columns
    x0:x1) when it cuts; lambda 1 means no mixing."""

    lam: float
    box: tuple[int, int, int, int] | None = None


def draw_mix(rng: np.random.Generator, options: MixOptions, height: int, width: int) -> MixDraw:
    """timm's `Mixup._params_per_batch` and `cutmix_bbox_and_lam` (lambda corrected to the box), from `rng`."""
    if not options.enabled or rng.random() >= options.prob:
        return MixDraw(1.0)
    if options.mixup_alpha > 0 and options.cutmix_alpha > 0:
        cutmix = bool(rng.random() < options.switch_prob)
    else:
        cutmix = options.cutmix_alpha > 0
    alpha = options.cutmix_alpha if cutmix else options.mixup_alpha
    lam = float(rng.beta(alpha, alpha))
    if not cutmix:
        return MixDraw(lam)
    ratio = np.sqrt(1 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    y0, y1 = int(np.clip(cy - cut_h // 2, 0, height)), int(np.clip(cy + (cut_h + 1) // 2, 0, height))
    x0, x1 = int(np.clip(cx - cut_w // 2, 0, width)), int(np.clip(cx + (cut_w + 1) // 2, 0, width))
    return MixDraw(1.0 - (y1 - y0) * (x1 - x0) / (height * width), (y0, y1, x0, x1))


def mix_batch(
    images: torch.Tensor, labels: torch.Tensor, draw: MixDraw, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The mixed batch and its soft targets (lam of each image's own label, 1 - lam of its partner's); `labels`
    are class indices (N), or multi-hot rows (N, classes) for multi-label."""
    if labels.ndim == 2:
        targets = labels.to(images.dtype)
    else:
        # Not F.one_hot: it checks the labels' range on the host, two reads back from the GPU at every step; these
        # labels come from the project's own data path.
        targets = torch.zeros(len(labels), num_classes, dtype=images.dtype, device=labels.device)
        targets.scatter_(1, labels[:, None], 1.0)
    if draw.lam == 1.0:
        return images, targets
    partners = images.flip(0)
    if draw.box is None:
        mixed = images * draw.lam + partners * (1 - draw.lam)
    else:
        y0, y1, x0, x1 = draw.box
        mixed = images.clone()
        mixed[:, :, y0:y1, x0:x1] = partners[:, :, y0:y1, x0:x1]
    return mixed, targets * draw.lam + targets.flip(0) * (1 - draw.lam)
