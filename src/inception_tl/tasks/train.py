"""The run: build the parts from the config, fit, evaluate the best checkpoint, write outputs."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import lightning as L
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from inception_tl.config.instantiate import config_values, instantiate
from inception_tl.config.schema import Calibration
from inception_tl.console import console
from inception_tl.data import ImageDataModule
from inception_tl.data.inspect.report import write_skipped_samples
from inception_tl.errors import ConfigError
from inception_tl.evaluation.cam_report import write_cam_report
from inception_tl.evaluation.cross_validation import OOF_FILE, aggregate_folds
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
    """Train and evaluate as configured (with `cv.folds`, each fold in turn, then their aggregate); returns the
    metrics also written to `metrics.json` (cross-validation: the aggregate's out-of-fold metrics)."""
    if cfg.cv.folds:
        return cross_validate(cfg)
    return run_once(cfg)


def cross_validate(cfg: DictConfig) -> dict[str, Any]:
    """Each fold a normal run in `fold_<k>/` of this run's folder, skipped when it finished before (its
    metrics.json is there: the same command with hydra.run.dir=<this folder> resumes), then `cv/`."""
    root = Path(cfg.paths.output_dir)
    folds = cfg.cv.folds
    chosen = range(folds) if cfg.cv.fold is None else [cfg.cv.fold]
    if cfg.cv.fold is not None and not 0 <= cfg.cv.fold < folds:
        raise ConfigError(f"cv.fold={cfg.cv.fold}: choose a fold from 0 to {folds - 1}.")
    for fold in chosen:
        fold_dir = root / f"fold_{fold}"
        if (fold_dir / "metrics.json").is_file():
            console.print(f"Fold {fold} of {folds}: finished before ({fold_dir}), not run again.")
            continue
        if fold_dir.exists():  # a fold stopped midway: its checkpoints and logs would mix with the new run's
            console.print(f"Fold {fold} of {folds}: did not finish; started again.")
            shutil.rmtree(fold_dir)
        console.print(f"[bold]Fold {fold} of {folds}[/bold] (resume a stopped cross-validation with the same "
                      f"command plus hydra.run.dir={root})")
        fold_cfg = copy.deepcopy(cfg)
        with open_dict(fold_cfg):
            fold_cfg.cv.folds = 0
            fold_cfg.data.folds, fold_cfg.data.fold = folds, fold
            fold_cfg.paths.output_dir = str(fold_dir)
        run_once(fold_cfg)
    if not all((root / f"fold_{k}" / "metrics.json").is_file() for k in range(folds)):
        console.print(f"Folds {list(chosen)} done; the aggregate is written once every fold has finished.")
        return {}
    return aggregate_folds(root, folds, final_command(), cfg.figures)["out_of_fold"]


def final_command() -> str:
    """This command without its cross-validation options: the final model, trained on all the data."""
    overrides = HydraConfig.get().overrides.task if HydraConfig.initialized() else []
    kept = [override for override in overrides if not override.split("=")[0].lstrip("+~").startswith("cv.")]
    return " ".join(["python train.py", *kept])


def run_once(cfg: DictConfig) -> dict[str, Any]:
    """One training run: fit, evaluate the best checkpoint, write the outputs."""
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
        skipped = datamodule.skipped_during_training()
        if skipped and trainer.is_global_zero:
            console.print(write_skipped_samples(skipped, output_dir))
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
            if cfg.data.folds and evaluation.validation is not None:  # this fold's out-of-fold predictions
                (output_dir / "report").mkdir(parents=True, exist_ok=True)
                evaluation.validation.to_csv(output_dir / "report" / OOF_FILE)
            if cfg.figures and cfg.cam.enabled:
                line = write_cam_report(model, evaluation.predictions, output_dir / "report", cfg.cam,
                                        trainer.strategy.root_device)
                console.print(line)
    finally:
        finish_wandb_runs(trainer.loggers)
    return evaluation.metrics
