"""Evaluate a checkpoint on a split and write the same report as a training run (`eval.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from inception_tl.config.instantiate import instantiate
from inception_tl.config.schema import EvalSplit
from inception_tl.console import console
from inception_tl.errors import ConfigError
from inception_tl.evaluation.cam_report import write_cam_report
from inception_tl.evaluation.checkpoint_data import checkpoint_datamodule
from inception_tl.evaluation.passes import evaluate_split
from inception_tl.evaluation.writer import write_outputs
from inception_tl.models.loading import load_classifier
from inception_tl.tasks.run_identity import wandb_run_identity
from inception_tl.training.callbacks.predictions import PredictionCollector
from inception_tl.training.loggers import build_loggers, finish_wandb_runs
from inception_tl.training.trainer import resolve_precision


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Metrics of `cfg.ckpt_path` on `cfg.split`, written with the report to the run directory."""
    split = EvalSplit(cfg.split).value  # a choice checked when the command was composed
    output_dir = Path(cfg.paths.output_dir)
    model = load_classifier(cfg.ckpt_path).set_channels_last(cfg.channels_last)
    datamodule = checkpoint_datamodule(model, cfg.get("data"))
    if split == "test" and not datamodule.has_test:
        raise ConfigError(f"{datamodule.root} has no test/ folder: evaluate split=val instead.")
    loggers = build_loggers(cfg, wandb_run_identity(cfg))
    collector = PredictionCollector()
    trainer = instantiate(
        cfg.trainer, precision=resolve_precision(cfg.trainer.precision), logger=loggers or False, callbacks=[collector]
    )
    try:
        metrics, predictions = evaluate_split(trainer, model, datamodule, collector, split)
        metrics["class_names"] = model.class_names
        metrics.update(model.objective.fitted())  # the temperature, or each label's threshold
        metrics["checkpoint"] = str(Path(cfg.ckpt_path).resolve())
        if trainer.is_global_zero:
            output_dir.mkdir(parents=True, exist_ok=True)
            (output_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
            write_outputs(output_dir, metrics, predictions, split, [], trainer.loggers, cfg.figures)
            if cfg.figures and cfg.cam.enabled:
                console.print(write_cam_report(model, predictions, output_dir / "report", cfg.cam,
                                               trainer.strategy.root_device))
    finally:
        finish_wandb_runs(trainer.loggers)
    return metrics
