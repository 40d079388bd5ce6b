"""The run: build the parts from the config, fit, evaluate the best checkpoint, write outputs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, LearningRateMonitor
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from inception_tl.checkpoint_io import AtomicCheckpointIO
from inception_tl.compilation import CompileTimeReport, compile_model
from inception_tl.data import ImageDataModule
from inception_tl.data.duplicates import duplicate_notes
from inception_tl.data.summary import class_counts, summary_notes, write_summary
from inception_tl.evaluation.collector import PredictionCollector
from inception_tl.evaluation.history import EpochHistory
from inception_tl.evaluation.predictions import Predictions
from inception_tl.evaluation.writer import confusion_counts, write_report
from inception_tl.finetune import FinetuneConfig
from inception_tl.instantiate import instantiate
from inception_tl.loggers import build_loggers, finish_wandb_runs
from inception_tl.models import ImageClassifier
from inception_tl.resume import check_same_backbone, check_same_classes, checkpoint_hyperparameters, resolve_checkpoint

console = Console(soft_wrap=True)  # long paths stay on one line, greppable in logs


def resolve_precision(precision: str | int) -> str | int:
    """`auto` means mixed precision (fp16 AMP) on CUDA and full precision elsewhere.

    Lightning has no "auto" precision; fp16 AMP is not available on the CPU, so one default
    serves both machines.
    """
    if precision != "auto":
        return precision
    return "16-mixed" if torch.cuda.is_available() else "32-true"


def resolve_sync_batchnorm(sync_batchnorm: bool | str) -> bool:
    """`auto` synchronises BatchNorm across DDP processes on CUDA; torch's SyncBatchNorm needs GPUs."""
    if sync_batchnorm != "auto":
        return bool(sync_batchnorm)
    return torch.cuda.is_available()


def build_trainer(cfg: DictConfig, *own_callbacks: Callback) -> L.Trainer:
    """The Trainer of the config, with the callbacks of the config group and those the caller needs."""
    callbacks = [instantiate(node) for node in (cfg.get("callbacks") or {}).values() if node]
    callbacks += own_callbacks
    loggers = build_loggers(cfg)
    if not loggers:  # `~logger`: the learning-rate monitor has nowhere to write (Lightning would refuse to start)
        callbacks = [callback for callback in callbacks if not isinstance(callback, LearningRateMonitor)]
    resolved = {"precision": resolve_precision(cfg.trainer.precision)}
    if "sync_batchnorm" in cfg.trainer:
        resolved["sync_batchnorm"] = resolve_sync_batchnorm(cfg.trainer.sync_batchnorm)
    plugins = [AtomicCheckpointIO()]
    return instantiate(cfg.trainer, **resolved, callbacks=callbacks, logger=loggers or False, plugins=plugins)


def plain(node: Any) -> Any:
    """A config node as plain containers (what checkpoints store), None as None."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def build_model(cfg: DictConfig, datamodule: ImageDataModule) -> ImageClassifier:
    return ImageClassifier(
        backbone=plain(cfg.backbone),
        class_names=datamodule.class_names,
        preprocessing=datamodule.preprocessing,
        optimizer=plain(cfg.optim),
        scheduler=plain(cfg.get("scheduler")),
        label_smoothing=cfg.label_smoothing,
        finetune=plain(cfg.get("finetune")),
        data=plain(cfg.data),
        # Resuming restores every weight from the checkpoint: no need to fetch pretrained ones.
        load_weights=cfg.ckpt_path is None,
        channels_last=cfg.channels_last,
    )


def evaluate_split(
    trainer: L.Trainer,
    model: ImageClassifier,
    datamodule: ImageDataModule,
    collector: PredictionCollector,
    split: str,
    ckpt_path: str | None = None,
) -> tuple[dict[str, Any], Predictions]:
    """The metrics of one pass over `split` and every image's prediction from that same pass.

    The pass runs where the Trainer runs the model (the GPU, under the run's precision); the report
    never needs the model again, so it does not matter that Lightning moves it to the CPU afterwards.
    """
    step = trainer.test if split == "test" else trainer.validate
    metrics: dict[str, Any] = {}
    for result in step(model, datamodule=datamodule, ckpt_path=ckpt_path, verbose=False):
        metrics.update({key: float(value) for key, value in result.items()})
    paths = [path for path, _ in datamodule.samples[split]]
    predictions = collector.predictions(split, paths, model.class_names)
    metrics[f"{split}/confusion_matrix"] = confusion_counts(predictions).tolist()
    return metrics, predictions


def evaluate_best(
    trainer: L.Trainer, model: ImageClassifier, datamodule: ImageDataModule, collector: PredictionCollector
) -> tuple[dict[str, Any], Predictions]:
    """Validation and test metrics of the best checkpoint (the current weights if none was saved), and the
    predictions of the report's split: test, or validation when there is no test split."""
    monitoring = [cb for cb in trainer.checkpoint_callbacks if getattr(cb, "monitor", None)]  # not last.ckpt's
    best = monitoring[0].best_model_path if monitoring else ""
    metrics, predictions = evaluate_split(trainer, model, datamodule, collector, "val", best or None)
    if datamodule.has_test:
        test_metrics, predictions = evaluate_split(trainer, model, datamodule, collector, "test", best or None)
        metrics.update(test_metrics)
    metrics["class_names"] = model.class_names
    metrics["best_checkpoint"] = best or None
    return metrics, predictions


def print_metrics(metrics: dict[str, Any]) -> None:
    table = Table(title="Final metrics (best checkpoint)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if isinstance(value, float):
            table.add_row(key, f"{value:.4f}")
    console.print(table)


def write_outputs(
    output_dir: Path,
    metrics: dict[str, Any],
    predictions: Predictions,
    split: str,
    history: list[dict[str, Any]],
    loggers: list[Logger],
) -> None:
    """metrics.json, the metrics table and the report of `split` (rank zero only)."""
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print_metrics(metrics)
    write_report(output_dir / "report", predictions, split, history, loggers)
    console.print(f"Outputs in [bold]{output_dir}[/bold]")


def report_data(output_dir: Path, datamodule: ImageDataModule) -> None:
    """Print images per class and split with any warnings, and keep them in the run directory."""
    counts = class_counts(datamodule.samples, datamodule.class_names)
    console.print(f"Data: [bold]{datamodule.root}[/bold]")
    table = Table(title="Images per class")
    table.add_column("class")
    for split in counts:
        table.add_column(split, justify="right")
    for name in datamodule.class_names:
        table.add_row(name, *(str(counts[split][name]) for split in counts))
    console.print(table)
    notes = summary_notes(datamodule.scan, counts, datamodule.balance)
    if datamodule.duplicates is not None:
        notes += duplicate_notes(datamodule.duplicates, datamodule.on_duplicate)
    if datamodule.cache_note:
        notes.append(datamodule.cache_note)
    for note in notes:
        console.print(f"[yellow]{note}[/yellow]")
    write_summary(output_dir, datamodule.scan, counts, notes, datamodule.duplicates)


def search_pruning(cfg: DictConfig) -> Callback | None:
    """The pruning link to an Optuna trial, in a job of `train.py -m hparams_search=...` (None otherwise)."""
    search = cfg.get("search")
    if not search:
        return None
    from inception_tl.search.pruning import OptunaPruning  # Optuna loads only for searches

    return OptunaPruning(search.storage, search.study_name, search.trial_id, cfg.optimized_metric, plain(search.pruner))


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train and evaluate as configured; returns the metrics also written to `metrics.json`."""
    output_dir = Path(cfg.paths.output_dir)
    L.seed_everything(cfg.seed, workers=True)
    # Frozen BatchNorm layers are in eval mode on purpose (see inception_tl.finetune.callback).
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start of training")
    # ImageDataModule.state_dict records the position in the epoch; Lightning only looks at the DataLoader.
    warnings.filterwarnings("ignore", message=r"You're resuming from a checkpoint that ended before the epoch ended")

    FinetuneConfig.from_mapping(plain(cfg.get("finetune"))).check_for_backbone(cfg.backbone.name)
    ckpt_path = resolve_checkpoint(cfg.ckpt_path, output_dir)
    if ckpt_path is not None:
        console.print(f"Resuming from [bold]{ckpt_path}[/bold]")
        saved = checkpoint_hyperparameters(ckpt_path)
        check_same_backbone(saved, cfg.backbone.name, ckpt_path)
    datamodule: ImageDataModule = instantiate(cfg.data, backbone=cfg.backbone.name)
    datamodule.prepare_data()
    datamodule.setup("fit")  # scans the folder: every data problem is reported before the model is built
    if ckpt_path is not None:
        check_same_classes(saved, datamodule.class_names, ckpt_path)
    model = build_model(cfg, datamodule)
    collector = PredictionCollector()
    own_callbacks: list[Callback] = [collector]
    pruning = search_pruning(cfg)
    if pruning is not None:
        own_callbacks.append(pruning)
    if cfg.compile:
        compile_model(model)
        own_callbacks.append(CompileTimeReport())
    trainer = build_trainer(cfg, *own_callbacks)

    if trainer.is_global_zero:
        output_dir.mkdir(parents=True, exist_ok=True)
        resolved = OmegaConf.to_yaml(cfg, resolve=True)
        (output_dir / "config.yaml").write_text(resolved)
        console.print(Syntax(resolved, "yaml", theme="ansi_dark"))
        console.print(f"Run directory: [bold]{output_dir}[/bold]")
        report_data(output_dir, datamodule)
        config = OmegaConf.to_container(cfg, resolve=True)
        for logger in trainer.loggers:  # the whole resolved config, not only the model's hyperparameters
            logger.log_hyperparams(config)

    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        if pruning is not None:
            pruning.raise_if_pruned()  # a pruned trial is not worth evaluating
        # Before evaluate_best: loading the best checkpoint restores the callbacks' state of that epoch.
        history = next((list(cb.rows) for cb in trainer.callbacks if isinstance(cb, EpochHistory)), [])
        metrics, predictions = evaluate_best(trainer, model, datamodule, collector)

        if trainer.is_global_zero:
            split = "test" if datamodule.has_test else "val"
            write_outputs(output_dir, metrics, predictions, split, history, trainer.loggers)
    finally:
        finish_wandb_runs(trainer.loggers)
    return metrics
