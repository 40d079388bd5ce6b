"""A timm Inception backbone as an ordered list of named stages, grouped by timm's `group_matcher`.

The freeze schedule needs two views of the same network: the order in which modules run (so a
frozen prefix can run without building an autograd graph) and timm's stage groups (the units that
are released and given their own learning rates). All three Inception backbones run their
children one after another in `forward_features`, and `Sequential` children (`features`, `repeat`)
are flattened to the granularity of timm's groups; a test checks the walk equals `forward_features`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from timm.models import group_parameters
from torch import nn

# Modules after the features: pooling, dropout and the classifier (replaced by our head).
HEAD_MODULES = ("global_pool", "head_drop", "fc", "last_linear", "classif", "AuxLogits")


@dataclass(frozen=True)
class Stage:
    """One module in forward order and the timm stage group of its parameters (None: it has none)."""

    name: str
    module: nn.Module
    group: int | None


def backbone_stages(backbone: nn.Module) -> list[Stage]:
    """The modules `forward_features` runs, in order, each tagged with its timm group index."""
    ordered: list[tuple[str, nn.Module]] = []
    for name, child in backbone.named_children():
        if name in HEAD_MODULES:
            continue
        if isinstance(child, nn.Sequential):
            ordered += [(f"{name}.{index}", block) for index, block in child.named_children()]
        else:
            ordered.append((name, child))
    # Groups come from parameter names, as timm's matchers are written for them (`^features\.[012]\.`).
    group_of = {
        parameter: group
        for group, parameters in group_parameters(backbone, backbone.group_matcher()).items()
        for parameter in parameters
    }
    stages = []
    for name, module in ordered:
        groups = {group_of[f"{name}.{parameter}"] for parameter, _ in module.named_parameters()}
        if len(groups) > 1:
            raise ValueError(f"Stage {name} spans timm groups {sorted(groups)}; split it further.")
        stages.append(Stage(name, module, groups.pop() if groups else None))
    return stages


def run_stages(stages: list[Stage], images: torch.Tensor, frozen: int = 0) -> torch.Tensor:
    """Run the stages in order; the first `frozen` run without autograd, so they cost no graph or memory."""
    features = images
    with torch.no_grad():
        for stage in stages[:frozen]:
            features = stage.module(features)
    for stage in stages[frozen:]:
        features = stage.module(features)
    return features
