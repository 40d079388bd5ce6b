"""timm Inception backbones without their ImageNet classifier, with hub or local-file weights."""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from timm.models import load_state_dict

from inception_tl.errors import ConfigError, WeightsError

BACKBONES = ("inception_v3", "inception_v4", "inception_resnet_v2")


def create_backbone(name: str, *, pretrained: bool, weights: str | None, drop_rate: float) -> torch.nn.Module:
    """A timm model returning pooled features (`num_classes=0`); Inception v3's auxiliary head is off.

    `weights` (a local file) wins over `pretrained` (timm's default weights from the Hugging Face hub).
    """
    if name not in BACKBONES:
        raise ConfigError(f"Unknown backbone {name!r}; choose one of {list(BACKBONES)}.")
    from_hub = pretrained and weights is None
    try:
        model = timm.create_model(name, pretrained=from_hub, num_classes=0, drop_rate=drop_rate)
    except Exception as error:  # the hub client raises many types (offline, 404, proxy, cache errors)
        source = timm.models.get_pretrained_cfg(name).hf_hub_id
        raise WeightsError(
            f"Could not load pretrained {name} weights from the Hugging Face hub ({source}): {error}\n"
            f"Without internet, either train from scratch with backbone.pretrained=false, or download "
            f"the weights elsewhere and pass backbone.weights=/path/to/model.safetensors."
        ) from error
    if weights is not None:
        load_backbone_weights(model, weights)
    return model


def load_backbone_weights(model: torch.nn.Module, path: str | Path) -> None:
    """Load a `.safetensors` or `.pth` state dict into `model`, strictly, ignoring an ImageNet classifier.

    timm's reader does the file handling (safetensors, `torch.load(weights_only=True)`, EMA and
    `module.` unwrapping). timm's own `pretrained_cfg_overlay=dict(file=...)` path is not used: it
    loads non-strictly whenever the head is replaced (always, here), so a file for another model
    would load silently with random layers left behind.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"backbone.weights={path} does not exist.")
    try:
        state_dict = load_state_dict(str(path), weights_only=True)
    except Exception as error:  # pickle errors for unsafe files, header errors for corrupt ones
        raise WeightsError(
            f"Could not read weights from {path}: {error}\n"
            f"Use a .safetensors file or a .pth file holding a plain state dict of tensors."
        ) from error
    classifier = model.pretrained_cfg.get("classifier")
    for suffix in (".weight", ".bias"):
        state_dict.pop(f"{classifier}{suffix}", None)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(key for key in set(expected) & set(state_dict) if expected[key].shape != state_dict[key].shape)
    if missing or unexpected or mismatched:
        name = model.pretrained_cfg.get("architecture", type(model).__name__)
        raise WeightsError(
            f"{path} does not hold {name} weights: {len(missing)} missing, {len(unexpected)} unexpected "
            f"and {len(mismatched)} wrongly shaped tensors (for example "
            f"{(missing + unexpected + mismatched)[:3]}). Check that the file was saved from a timm "
            f"{name}, or pick the matching backbone= option."
        )
    model.load_state_dict(state_dict, strict=True)
