"""The run: build the parts from the config, fit, evaluate the best checkpoint, write outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig, OmegaConf

from inception_tl.config.instantiate import config_values, instantiate
from inception_tl.config.schema import Calibration
from inception_tl.console import console
from inception_tl.data import ImageDataModule
from inception_tl.evaluation.cam_report import write_cam_report
from inception_tl.evaluation.passes import evaluate_best
from inception_tl.evaluation.writer import write_outputs
from inception_tl.finetune import FinetuneConfig
from inception_tl.models.build import build_model
from inception_tl.models.loss import describe_weights
from inception_tl.tasks.run_identity import wandb_run_identity
from inception_tl.tasks.summary import print_run_summary
from inception_tl.training.callbacks.compile_time import CompileTimeReport
from inception_tl.training.callbacks.history import EpochHistory
from inception_tl.training.callbacks.predictions import PredictionCollector
from inception_tl.training.checkpoints import (
    check_resumable,
    check_same_backbone,
    check_same_classes,
    finish_best_checkpoint,
    read_checkpoint,
    resolve_checkpoint,
)
from inception_tl.training.compilation import compile_model
from inception_tl.training.loggers import finish_wandb_runs
from inception_tl.training.trainer import build_trainer


def search_pruning(cfg: DictConfig) -> Callback | None:
    """The pruning link to an Optuna trial, in a job of `train.py -m hparams_search=...` (None otherwise)."""
    search = cfg.get("search")
    if not search:
        return None
    from inception_tl.training.callbacks.optuna_pruning import OptunaPruning  # Optuna loads only for searches

    return OptunaPruning(
        search.storage, search.study_name, search.trial_id, cfg.optimized_metric, config_values(search.pruner)
    )


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train and evaluate as configured; returns the metrics also written to `metrics.json`."""
    output_dir = Path(cfg.paths.output_dir)
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    FinetuneConfig.from_mapping(config_values(cfg.get("finetune"))).check_for_backbone(
        cfg.backbone.name, config_values(cfg.backbone.get("model_kwargs"))
    )
    ckpt_path = resolve_checkpoint(cfg.ckpt_path, output_dir)
    if ckpt_path is not None:
        console.print(f"Resuming from [bold]{ckpt_path}[/bold]")
        checkpoint = read_checkpoint(ckpt_path)
        saved = dict(checkpoint["hyper_parameters"])
        check_same_backbone(saved, cfg.backbone.name, ckpt_path)
        check_resumable(checkpoint, ckpt_path)
        del checkpoint
    datamodule: ImageDataModule = instantiate(cfg.data, backbone=cfg.backbone.name)
    report = datamodule.setup_data()  # every data problem is reported before the model is built
    if ckpt_path is not None:
        check_same_classes(saved, datamodule.class_names, ckpt_path)
    model = build_model(cfg, datamodule)
    collector, history = PredictionCollector(), EpochHistory()  # the run reads both after fitting
    own_callbacks: list[Callback] = [collector, history]
    pruning = search_pruning(cfg)
    if pruning is not None:
        own_callbacks.append(pruning)
    if cfg.compile:
        compile_model(model)
        own_callbacks.append(CompileTimeReport())
    trainer = build_trainer(cfg, *own_callbacks, wandb_identity=wandb_run_identity(cfg))

    if trainer.is_global_zero:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        print_run_summary(cfg, model, report, trainer, output_dir, datamodule.augment)
        report.write(output_dir)
        if model.hparams.class_weights is not None:
            setting = cfg.loss.class_weights
            console.print(
                f"[yellow]{describe_weights(setting, model.hparams.class_weights, model.class_names)}[/yellow]"
            )
        config = OmegaConf.to_container(cfg, resolve=True)
        for logger in trainer.loggers:  # the whole resolved config, not only the model's hyperparameters
            logger.log_hyperparams(config)

    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        if pruning is not None:
            pruning.raise_if_pruned()  # a pruned trial is not worth evaluating
        calibrate = cfg.calibration == Calibration.temperature  # a choice checked when the command was composed
        evaluation = evaluate_best(trainer, model, datamodule, collector, calibrate)
        if trainer.is_global_zero:
            if evaluation.best_checkpoint:  # eval.py, predict.py and export take the fitted values from there
                finish_best_checkpoint(evaluation.best_checkpoint, **evaluation.fitted)
            write_outputs(
                output_dir,
                evaluation.metrics,
                evaluation.predictions,
                evaluation.split,
                list(history.rows),
                trainer.loggers,
                cfg.figures,
            )
            if cfg.figures and cfg.cam.enabled:
                line = write_cam_report(model, evaluation.predictions, output_dir / "report", cfg.cam,
                                        trainer.strategy.root_device)
                console.print(line)
    finally:
        finish_wandb_runs(trainer.loggers)
    return evaluation.metrics
