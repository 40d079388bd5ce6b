"""Preprocessing from timm's own data config for the backbone (any model timm knows by name): sizes, the eval crop
and its normalisation."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

import timm
from timm.data import create_transform, resolve_data_config
from torchvision import transforms as T

from inception_tl.errors import ConfigError

# The Inception stem (three stride-2 stages and two pools) needs at least this many pixels.
MIN_IMAGE_SIZE = 75
INCEPTION_BACKBONES = ("inception_v3", "inception_v4", "inception_resnet_v2")


def check_backbone_name(name: str) -> None:
    """ConfigError for a name timm does not know, with the nearest names it does."""
    if timm.is_model(name):
        return
    close = difflib.get_close_matches(name.split(".")[0], timm.list_models(), n=5, cutoff=0.6)
    raise ConfigError(
        f"timm knows no model {name!r}"
        + (f"; did you mean one of {close}?" if close else ".")
        + " `python -c \"import timm; print(timm.list_models('*resnet*'))\"` lists names by pattern; "
        "conf/backbone/ holds the tested ones."
    )


def resolve_preprocessing(model_name: str, image_size: int | None = None, crop_mode: Any = None) -> dict[str, Any]:
    """timm's data config for `model_name` (mean, std, interpolation, crop_pct, crop_mode), optionally resized and
    with another crop mode (`center`, `squash` or `border`)."""
    check_backbone_name(model_name)
    pretrained_cfg = timm.models.get_pretrained_cfg(model_name)
    if pretrained_cfg is None:
        raise ConfigError(f"timm knows no pretrained config for {model_name!r}.")
    config = resolve_data_config(pretrained_cfg=pretrained_cfg.to_dict())
    if image_size is not None:
        # Other models' smallest size is found when the model first runs (finetune/stages.py says so).
        if model_name.split(".")[0] in INCEPTION_BACKBONES and image_size < MIN_IMAGE_SIZE:
            raise ConfigError(
                f"data.image_size={image_size} is too small: Inception backbones need at least "
                f"{MIN_IMAGE_SIZE} px. Use data.image_size={MIN_IMAGE_SIZE} or more (the default is 299)."
            )
        config["input_size"] = (3, image_size, image_size)
    if crop_mode is not None:
        config["crop_mode"] = getattr(crop_mode, "value", crop_mode)  # a CropMode, or its name
    config.setdefault("crop_mode", "center")
    config["input_size"] = tuple(config["input_size"])
    config["mean"] = tuple(config["mean"])
    config["std"] = tuple(config["std"])
    return config


def resize_size(preprocessing: Mapping[str, Any]) -> int:
    """The shorter side timm's eval transform resizes to before its centre crop: floor(size / crop_pct)."""
    return math.floor(preprocessing["input_size"][-1] / preprocessing["crop_pct"])


def resized_shape(height: int, width: int, shorter_side: int) -> tuple[int, int]:
    """torchvision's `Resize(shorter_side)` output size (timm's eval resize), up or down; unchanged when the shorter
    side is already `shorter_side`."""
    short, long = min(height, width), max(height, width)
    if short == shorter_side:
        return height, width
    new_long = int(shorter_side * long / short)
    return (shorter_side, new_long) if height <= width else (new_long, shorter_side)


def eval_transform(preprocessing: Mapping[str, Any]) -> T.Compose:
    """timm's own evaluation transform on a PIL image (resize to size / crop_pct, centre crop, normalise): the
    reference the device path (`device.resize`) equals to the bit."""
    return create_transform(**preprocessing, is_training=False)
