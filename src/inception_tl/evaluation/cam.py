"""Class-activation maps for any backbone, with pytorch-grad-cam: where in the image the model found its class.

The hard part for users is the target layer (and, for a ViT, turning its tokens back into a grid): it is chosen
here from the backbone's stage walk (`finetune/stages.py`, the one the freeze schedule uses). A convolutional
network's target is its last stage whose output is a feature map of at least `MIN_GRID` cells a side (at a small
input the very last one can be 1 x 1, which shows nothing); a ViT-style model's is its last stage whose output is
tokens, reshaped to the model's own patch grid with its class and register tokens dropped (its last block's
input where the class token alone is pooled). `cam.layer` names
another stage; a wrong name lists the valid ones.

Maps are computed in eval mode (frozen BatchNorm stays frozen); the gradients they need are cleared afterwards, so
the model's weights, and any metric computed from it, are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from inception_tl.config.schema import CamMethod
from inception_tl.errors import ConfigError
from inception_tl.finetune.stages import BoundStage
from inception_tl.models import ImageClassifier

# A target's feature map must be at least this many cells a side.
MIN_GRID = 3


@dataclass(frozen=True)
class CamTarget:
    """A stage whose output the maps are computed on, and how its output becomes (N, C, h, w)."""

    name: str
    module: nn.Module
    grid: tuple[int, int]
    reshape: Callable[[torch.Tensor], torch.Tensor] | None = None


def tokens_to_grid(prefix_tokens: int, grid: tuple[int, int]) -> Callable[[torch.Tensor], torch.Tensor]:
    """(N, tokens, C) -> (N, C, h, w): the class / register tokens dropped, the patches laid out as the model's."""

    def reshape(tokens: torch.Tensor) -> torch.Tensor:
        patches = tokens[:, prefix_tokens:, :]
        return patches.reshape(patches.shape[0], *grid, patches.shape[2]).permute(0, 3, 1, 2)

    return reshape


def stage_outputs(model: ImageClassifier, image_size: int) -> list[tuple[str, nn.Module, torch.Size]]:
    """Each walkable stage of the backbone (not the pooling) with the shape of its output on one image."""
    shapes: dict[str, torch.Size] = {}
    stages = [stage for stage in model.stages if stage.name != "pre_logits" and stage.unwalkable is None]
    hooks = []
    for stage in stages:
        def record(_m: nn.Module, _i: object, output: torch.Tensor, name: str = stage.name) -> None:
            if isinstance(output, torch.Tensor):
                shapes[name] = output.shape

        hooks.append(stage.module.register_forward_hook(record))
    parameter = next(model.parameters())
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval().backbone.forward_features(
                torch.zeros(1, 3, image_size, image_size, device=parameter.device, dtype=parameter.dtype)
            )
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return [(stage.name, stage.module, shapes[stage.name]) for stage in stages if stage.name in shapes]


def cam_targets(model: ImageClassifier, image_size: int) -> list[CamTarget]:
    """Every stage a map can be computed on: feature maps (N, C, h, w), or tokens that fill the patch grid."""
    backbone = model.backbone
    prefix = int(getattr(backbone, "num_prefix_tokens", 0))
    patch_embed = getattr(backbone, "patch_embed", None)
    patch = getattr(patch_embed, "patch_size", None)
    token_grid = (image_size // patch[0], image_size // patch[1]) if patch is not None else None
    targets = []
    for name, module, shape in stage_outputs(model, image_size):
        if isinstance(module, BoundStage | nn.Identity | nn.Dropout | nn.LayerNorm):
            continue  # a method of the model (ViT's position embedding), or a layer that only passes values on
        if len(shape) == 4 and shape[-1] > 1 and shape[-2] > 1:  # timm's CNN stages: (N, C, h, w)
            targets.append(CamTarget(name, module, (shape[-2], shape[-1])))
        elif len(shape) == 3 and token_grid is not None and shape[1] - prefix == token_grid[0] * token_grid[1]:
            targets.append(CamTarget(name, module, token_grid, tokens_to_grid(prefix, token_grid)))
    return targets


def choose_target(model: ImageClassifier, image_size: int, layer: str | None) -> CamTarget:
    """The stage named `layer`, or the last one whose map has at least MIN_GRID cells a side (else the finest)."""
    targets = cam_targets(model, image_size)
    if not targets:
        raise ConfigError(
            f"{model.hparams.backbone['name']} has no stage with a spatial output at {image_size} px: no class-"
            "activation map can be drawn (set cam.enabled=false)."
        )
    if layer is not None:
        named = {target.name: target for target in targets}
        if layer not in named:
            raise ConfigError(f"cam.layer={layer!r} is not a stage of {model.hparams.backbone['name']} with a "
                              f"spatial output; choose one of: {', '.join(named)}.")
        return named[layer]
    if getattr(model.backbone, "global_pool", None) == "token":
        # Pooled by the class token: after the last block the patch tokens no longer reach the output (their
        # gradient is zero), so the map is taken on the last block's input, as pytorch-grad-cam advises.
        tokens = [target for target in targets if target.reshape is not None]
        if len(tokens) > 1:
            targets = [target for target in targets if target is not tokens[-1]]
    wide = [target for target in targets if min(target.grid) >= MIN_GRID]
    if wide:
        return wide[-1]
    finest = max(min(target.grid) for target in targets)  # a small input: the last of the finest maps
    return [target for target in targets if min(target.grid) == finest][-1]


def cam_class(method: CamMethod) -> type:
    from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, LayerCAM

    return {
        CamMethod.gradcam: GradCAM,
        CamMethod.gradcampp: GradCAMPlusPlus,
        CamMethod.layercam: LayerCAM,
        CamMethod.eigencam: EigenCAM,
    }[CamMethod(method)]


def activation_maps(
    model: ImageClassifier,
    images: torch.Tensor,
    classes: Sequence[int],
    target: CamTarget,
    method: CamMethod = CamMethod.gradcam,
    batch_size: int = 16,
) -> np.ndarray:
    """(N, H, W) maps in [0, 1] for normalised `images` (N, 3, H, W) on the model's device, each for its class in
    `classes` (a multi-label model: the label to explain)."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    was_training = model.training
    cam = cam_class(method)(model=model.eval(), target_layers=[target.module], reshape_transform=target.reshape)
    maps = []
    try:
        with torch.enable_grad():
            for start in range(0, len(images), batch_size):
                chunk = images[start : start + batch_size]
                targets = [ClassifierOutputTarget(int(k)) for k in classes[start : start + batch_size]]
                maps.append(cam(input_tensor=chunk, targets=targets))
    finally:
        cam.activations_and_grads.release()
        model.zero_grad(set_to_none=True)  # the backward passes' gradients: nothing of them stays
        model.train(was_training)
    return np.concatenate(maps) if maps else np.empty((0, *images.shape[-2:]))
