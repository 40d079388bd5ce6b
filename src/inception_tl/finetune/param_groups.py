"""Optimizer parameter groups: one pair (decay, no decay) per timm stage group, plus the head.

Every group exists from the first step, frozen or not, so the optimizer and any scheduler never see a
group added mid-run, and a checkpoint restores them as they were. A frozen group receives no gradient
(its stages run under `no_grad`), and torch's optimizers skip parameters whose `.grad` is None: no
update, no weight decay, no moment estimates.

Why not timm's `param_groups_layer_decay`: it puts the head at the top of one geometric ladder (so the
top backbone group gets `decay`, not a separate backbone scale) and stores `lr_scale`, which only timm's
own schedulers apply; we use torch schedulers, so each group carries its final rate in `lr`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from torch import nn

from inception_tl.finetune.config import FinetuneConfig
from inception_tl.finetune.stages import Stage


def discriminative_param_groups(
    stages: list[Stage],
    head: nn.Module,
    lr: float,
    weight_decay: float,
    finetune: FinetuneConfig,
    no_weight_decay: Collection[str] = (),
) -> list[dict[str, Any]]:
    """Named groups, bottom of the backbone first and the head last, each with its own `lr`. timm's rule decides
    what is not decayed: biases, norm weights (all 1-d) and the backbone's `no_weight_decay()` names (a ViT's
    position embedding and class token)."""

    def excluded_from_decay(name: str, parameter: nn.Parameter) -> bool:
        return parameter.ndim <= 1 or name.endswith(".bias") or name in no_weight_decay

    units: dict[int, tuple[str, list[tuple[str, nn.Parameter]]]] = {}
    for stage in stages:
        if stage.group is not None:
            _, parameters = units.setdefault(stage.group, (stage.name, []))
            parameters += stage.parameters
    units_bottom_up = [*units.values(), ("head", list(head.named_parameters()))]
    scales = [*finetune.group_lr_scales(len(units)), 1.0]
    groups = []
    for (name, parameters), scale in zip(units_bottom_up, scales, strict=True):
        decay = [p for n, p in parameters if not excluded_from_decay(n, p)]
        no_decay = [p for n, p in parameters if excluded_from_decay(n, p)]
        if decay:
            groups.append({"name": name, "params": decay, "lr": lr * scale, "weight_decay": weight_decay})
        if no_decay:
            groups.append({"name": f"{name}.no_decay", "params": no_decay, "lr": lr * scale, "weight_decay": 0.0})
    return groups
