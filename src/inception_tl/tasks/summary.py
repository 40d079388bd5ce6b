"""What a training run prints before its first epoch: a few lines that say what will run (the resolved config goes
to the run folder's config.yaml, where a reader can search it, not to the screen)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig
from rich.table import Table

from inception_tl.config.instantiate import config_values
from inception_tl.console import console
from inception_tl.data import DataReport
from inception_tl.data.worker.augment import Augment
from inception_tl.models import ImageClassifier

COLOUR_KEYS = ("brightness", "contrast", "saturation", "hue", "greyscale")


def levers_on(cfg: DictConfig, augment: Augment) -> list[str]:
    """The levers for small data that this run turns on (README, Levers for a few hundred photos)."""
    levers = []
    ema = (cfg.get("callbacks") or {}).get("ema")
    if ema:
        levers.append(f"EMA weights (decay {ema.get('decay', 0.999)})")
    mixup = cfg.get("mixup") or {}
    if mixup.get("mixup_alpha", 0) > 0 or mixup.get("cutmix_alpha", 0) > 0:
        levers.append(
            f"Mixup {mixup.mixup_alpha} / CutMix {mixup.cutmix_alpha} on {mixup.prob:.0%} of the batches"
        )
    colour = [f"{key} {getattr(augment, key)}" for key in COLOUR_KEYS if getattr(augment, key) > 0]
    if colour:
        levers.append("colour: " + ", ".join(colour))
    if augment.policy.value != "none":
        levers.append(f"policy {augment.policy.value} ({augment.policy_ops} op)")
    if augment.erase > 0:
        levers.append(f"random erasing {augment.erase}")
    weights = (cfg.get("loss") or {}).get("class_weights")
    if weights is not None:
        levers.append(f"class weights {weights}")
    if config_values(cfg.data).get("balance") == "weighted":  # choices as their names
        levers.append("balanced sampling")
    smoothing = cfg.get("label_smoothing") or (cfg.get("loss") or {}).get("label_smoothing")
    if smoothing:
        levers.append(f"label smoothing {smoothing}")
    return levers


def print_data_report(report: DataReport) -> None:
    """Images per class and split, then every warning."""
    counts = report.counts
    table = Table(title=f"Images per class ({report.root})", title_justify="left")
    table.add_column("class")
    for split in counts:
        table.add_column(split, justify="right")
    for name in report.class_names:
        table.add_row(name, *(str(counts[split][name]) for split in counts))
    console.print(table)
    if report.aspect is not None:
        console.print(f"Aspect ratio (width / height) of the training images: {report.aspect.describe()}")
    for note in report.notes:
        console.print(f"[yellow]{note}[/yellow]")


def describe_model(model: ImageClassifier, cfg: DictConfig) -> str:
    backbone = model.hparams.backbone
    origin = "ImageNet weights" if backbone.get("pretrained") or backbone.get("weights") else "random weights"
    head = backbone.get("head", {}).get("kind", "linear")
    parameters = sum(parameter.numel() for parameter in model.parameters())
    pre = model.hparams.preprocessing
    return (
        f"{backbone['name']} ({origin}) with a {head} head, {parameters / 1e6:.1f} M parameters; input "
        f"{pre['input_size'][-1]} px, {pre['interpolation']}, crop_pct {pre['crop_pct']}, crop_mode {pre['crop_mode']}"
    )


def describe_schedule(cfg: DictConfig) -> str:
    finetune: Mapping[str, Any] = config_values(cfg.get("finetune")) or {}  # choices as their names
    strategy = finetune.get("strategy", "full")
    detail = {
        "warmup": f"the head alone for {finetune.get('warmup_epochs')} epoch(s), then the backbone from "
        f"{finetune.get('unfreeze_from') or 'its first block'} at {finetune.get('backbone_lr_scale')}x",
        "gradual": f"the head alone for {finetune.get('warmup_epochs')} epoch(s), then one more stage group every "
        f"{finetune.get('every_n_epochs')} epoch(s)",
        "milestones": "the backbone released at the listed epochs",
        "linear_probe": "the head alone (backbone frozen)",
        "full": "everything from the first step",
    }.get(strategy, strategy)
    optimizer = cfg.optim.get("opt", "adamw")
    scheduler = (config_values(cfg.get("scheduler")) or {}).get("name", "none")
    return f"{strategy} ({detail}); {cfg.trainer.max_epochs} epochs, {optimizer} lr {cfg.optim.lr}, {scheduler}"


def print_run_summary(
    cfg: DictConfig, model: ImageClassifier, report: DataReport, trainer: L.Trainer, output_dir: Path, augment: Augment
) -> None:
    """The run in a few lines: data, model, schedule, levers, device and where everything goes."""
    sizes = " / ".join(f"{len(samples):,} {split}" for split, samples in report.samples.items())
    task = "multi-label" if model.objective.multi_label else "single-label"
    console.print(f"[bold]Training[/bold] on {len(report.class_names)} classes ({task}): {sizes} images")
    print_data_report(report)
    console.print(f"Model: {describe_model(model, cfg)}")
    console.print(f"Schedule: {describe_schedule(cfg)}")
    levers = levers_on(cfg, augment)
    calibration = "per-label thresholds" if model.objective.multi_label else "temperature fitted on validation"
    console.print(f"Levers: {'; '.join(levers) if levers else 'none'}; after training: {calibration}")
    device = f"{trainer.num_devices} x {trainer.accelerator.__class__.__name__.removesuffix('Accelerator')}"
    nodes = f" on {trainer.num_nodes} nodes" if trainer.num_nodes > 1 else ""
    console.print(
        f"Runs on: {device}{nodes}, precision {trainer.precision}, batch {cfg.data.batch_size} per device, "
        f"{len(trainer.loggers)} logger(s): {', '.join(type(lg).__name__ for lg in trainer.loggers) or 'none'}"
    )
    console.print(f"Run directory: [bold]{output_dir}[/bold] (config.yaml: the whole resolved config)")
