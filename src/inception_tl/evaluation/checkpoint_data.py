"""The data a checkpoint was trained on, rebuilt from its own record (eval.py, export's int8 calibration)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from omegaconf import MISSING, DictConfig

from inception_tl.config.instantiate import instantiate
from inception_tl.config.schema import DataSchema
from inception_tl.data import ImageDataModule
from inception_tl.errors import ConfigError
from inception_tl.models import ImageClassifier


def checkpoint_datamodule(model: ImageClassifier, data: DictConfig | None) -> ImageDataModule:
    """The data config given (`data=...`), else the checkpoint's; the preprocessing always the checkpoint's."""
    config = data if data is not None else model.hparams.get("trained_on")
    if config is None:
        raise ConfigError("This checkpoint stores no data config: choose the data to evaluate on with data=<option>.")
    if data is None:
        config = with_later_options(config)
    datamodule: ImageDataModule = instantiate(
        config, backbone=model.hparams.backbone["name"], preprocessing=model.hparams.preprocessing
    )
    datamodule.setup_data()
    if datamodule.class_names != model.class_names:
        raise ConfigError(
            f"The data's classes {datamodule.class_names} differ from the checkpoint's {model.class_names}."
        )
    return datamodule


def with_later_options(recorded: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint's data config with the options added to DataSchema since it was written, at their defaults
    (a checkpoint from before cross-validation has no `folds`)."""
    later = {
        item.name: item.default
        for item in dataclasses.fields(DataSchema)
        if item.name not in recorded
        and item.default not in (dataclasses.MISSING, MISSING)
        and "${" not in str(item.default)  # an interpolation means nothing outside its config
    }
    return {**later, **recorded}
