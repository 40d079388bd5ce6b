"""Optimizer and learning-rate schedule from the `optim` and `scheduler` config groups."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from timm.optim import create_optimizer_v2
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau

from inception_tl.errors import ConfigError

# Optimizers with torch's fused kernel (CUDA and CPU): every parameter updated in one launch, not one per tensor.
FUSED_CAPABLE = ("adam", "adamw", "sgd", "momentum", "nesterov")
FUSED_DEVICES = ("cuda", "cpu")


def build_optimizer(
    param_groups: list[dict[str, Any]], config: Mapping[str, Any], fused: bool = False
) -> torch.optim.Optimizer:
    """timm's optimizer factory (`opt` names it) over groups that carry their own lr and weight decay.

    `fused`: use torch's fused implementation where the optimizer has one and the config chose neither
    `fused` nor `foreach` itself (the caller knows which device the parameters are on).
    """
    # Unset options (null) take timm's defaults.
    options = {key: value for key, value in config.items() if key not in ("lr", "weight_decay") and value is not None}
    if fused and str(config["opt"]).lower() in FUSED_CAPABLE and not {"fused", "foreach"} & options.keys():
        options["fused"] = True
    return create_optimizer_v2(param_groups, lr=config["lr"], **options)


class WarmupCosine:
    """Learning-rate factor: linear ramp over `warmup` steps, then cosine down to `min_ratio`.

    A factor (not an absolute rate) so every parameter group keeps its own base rate.
    """

    def __init__(self, warmup: int, total: int, min_ratio: float, start_factor: float) -> None:
        self.warmup, self.total, self.min_ratio, self.start_factor = warmup, total, min_ratio, start_factor

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return self.start_factor + (1.0 - self.start_factor) * step / self.warmup
        progress = min((step - self.warmup) / max(self.total - self.warmup, 1), 1.0)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: Mapping[str, Any], total_steps: int, steps_per_epoch: int
) -> dict[str, Any]:
    """A Lightning `lr_scheduler` dict: per-step cosine with linear warm-up, or per-epoch plateau."""
    name = config["name"]
    if name == "cosine":
        warmup = min(round(config["lr_warmup_epochs"] * steps_per_epoch), max(total_steps - 1, 0))
        factor = WarmupCosine(warmup, total_steps, config["min_lr_ratio"], config["warmup_start_factor"])
        return {"scheduler": LambdaLR(optimizer, factor), "interval": "step"}
    if name == "plateau":
        mode = config["mode"]
        scheduler = ReduceLROnPlateau(optimizer, mode=mode, factor=config["factor"], patience=config["patience"])
        return {"scheduler": scheduler, "interval": "epoch", "monitor": config["monitor"]}
    raise ConfigError(f"Unknown scheduler.name {name!r}; choose 'cosine' or 'plateau'.")
