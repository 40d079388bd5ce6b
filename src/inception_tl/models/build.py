"""The model of a training run, from its config and its data: the backbone, head, classes, preprocessing, class
weights and every training setting the checkpoint keeps. Shared by train.py, lr_find.py and the benchmarks."""

from __future__ import annotations

from omegaconf import DictConfig

from inception_tl.config.instantiate import config_values
from inception_tl.console import console
from inception_tl.data import ImageDataModule
from inception_tl.models.classifier import ImageClassifier
from inception_tl.models.loss import class_weights, positive_weights


def label_smoothing(cfg: DictConfig) -> float:
    """`loss.label_smoothing`, or the top-level `label_smoothing` of older commands, said to be renamed."""
    old = cfg.get("label_smoothing")
    if old is None:
        return float(cfg.loss.label_smoothing)
    console.print(
        f"[yellow]label_smoothing={old} is now loss.label_smoothing={old}: the old key still works, and will be "
        "removed in a later release.[/yellow]"
    )
    return float(old)


def build_model(cfg: DictConfig, datamodule: ImageDataModule) -> ImageClassifier:
    """The run's ImageClassifier for the data module's classes (its data is set up first, if it was not)."""
    setting = cfg.get("loss", {}).get("class_weights")
    report = datamodule.setup_data()
    if datamodule.multi_label:
        images = len(report.samples["train"])
        weights = positive_weights(setting, report.counts["train"], images, datamodule.class_names)
    else:
        weights = class_weights(setting, report.counts["train"], datamodule.class_names)
    return ImageClassifier(
        backbone=config_values(cfg.backbone),
        class_names=datamodule.class_names,
        preprocessing=datamodule.preprocessing,
        optimizer=config_values(cfg.optim),
        scheduler=config_values(cfg.get("scheduler")),
        label_smoothing=label_smoothing(cfg),
        class_weights=weights,
        mixup=config_values(cfg.get("mixup")),
        finetune=config_values(cfg.get("finetune")),
        trained_on=config_values(cfg.data),
        multi_label=datamodule.multi_label,
        # Resuming restores every weight from the checkpoint: no need to fetch pretrained ones.
        load_weights=cfg.ckpt_path is None,
    ).set_channels_last(cfg.channels_last)
