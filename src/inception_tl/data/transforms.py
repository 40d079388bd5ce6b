"""Preprocessing from timm's own data config for the backbone, plus configurable training augmentation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import timm
from timm.data import create_transform, resolve_data_config
from timm.data.transforms import str_to_interp_mode
from torchvision import transforms as T

from inception_tl.errors import ConfigError

# The Inception stem (three stride-2 stages and two pools) needs at least this many pixels.
MIN_IMAGE_SIZE = 75


def resolve_preprocessing(model_name: str, image_size: int | None = None) -> dict[str, Any]:
    """timm's data config for `model_name` (mean, std, interpolation, crop_pct), optionally resized."""
    pretrained_cfg = timm.models.get_pretrained_cfg(model_name)
    if pretrained_cfg is None:
        raise ConfigError(f"timm knows no pretrained config for {model_name!r}.")
    config = resolve_data_config(pretrained_cfg=pretrained_cfg.to_dict())
    if image_size is not None:
        if image_size < MIN_IMAGE_SIZE:
            raise ConfigError(
                f"data.image_size={image_size} is too small: Inception backbones need at least "
                f"{MIN_IMAGE_SIZE} px. Use data.image_size={MIN_IMAGE_SIZE} or more (the default is 299)."
            )
        config["input_size"] = (3, image_size, image_size)
    config["input_size"] = tuple(config["input_size"])
    config["mean"] = tuple(config["mean"])
    config["std"] = tuple(config["std"])
    return config


def eval_transform(preprocessing: Mapping[str, Any]) -> T.Compose:
    """Resize to size / crop_pct and centre-crop, exactly as timm evaluates the backbone."""
    return create_transform(**preprocessing, is_training=False)


def train_transform(preprocessing: Mapping[str, Any], augment: Mapping[str, Any]) -> T.Compose:
    """Random resized crop, horizontal flip and a mild affine, then timm's normalisation.

    The affine (rotation, shift, shear, zoom) mirrors the Keras ImageDataGenerator recipe this
    project reproduces; timm's own training transform has no affine, so it is composed here.
    """
    size = preprocessing["input_size"][-1]
    interpolation = str_to_interp_mode(preprocessing["interpolation"])
    steps: list = [
        T.RandomResizedCrop(size, scale=tuple(augment["crop_scale"]), interpolation=interpolation),
        T.RandomHorizontalFlip(augment["hflip"]),
    ]
    if augment["rotation"] or augment["shift"] or augment["shear"] or augment["zoom"]:
        fill = tuple(round(255 * m) for m in preprocessing["mean"])
        steps.append(
            T.RandomAffine(
                degrees=augment["rotation"],
                translate=(augment["shift"], augment["shift"]),
                scale=(1 - augment["zoom"], 1 + augment["zoom"]),
                shear=augment["shear"],
                interpolation=interpolation,
                fill=fill,
            )
        )
    steps += [T.ToTensor(), T.Normalize(preprocessing["mean"], preprocessing["std"])]
    return T.Compose(steps)
