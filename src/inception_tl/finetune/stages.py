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
from timm.models._manipulate import group_with_matcher
from torch import nn

# Modules after the features: pooling, dropout and the classifier (replaced by our head).
HEAD_MODULES = ("global_pool", "head_drop", "fc", "last_linear", "classif", "AuxLogits")


@dataclass(frozen=True)
class Stage:
    """One module in forward order and the timm stage group it belongs to."""

    name: str
    module: nn.Module
    group: int


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
    groups = group_with_matcher([(name, None) for name, _ in ordered], backbone.group_matcher(), return_values=False)
    group_of = {name: group for group, names in groups.items() for name in names}
    return [Stage(name, module, group_of[name]) for name, module in ordered]


def run_stages(stages: list[Stage], images: torch.Tensor, frozen: int = 0) -> torch.Tensor:
    """Run the stages in order; the first `frozen` run without autograd, so they cost no graph or memory."""
    features = images
    with torch.no_grad():
        for stage in stages[:frozen]:
            features = stage.module(features)
    for stage in stages[frozen:]:
        features = stage.module(features)
    return features
