"""Evaluation passes over a split: the metrics and every image's prediction come from the same pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning as L
import numpy as np

from inception_tl.console import console
from inception_tl.data import ImageDataModule
from inception_tl.evaluation.predictions import Predictions
from inception_tl.evaluation.writer import confusion_counts
from inception_tl.models import ImageClassifier
from inception_tl.training.callbacks.predictions import PredictionCollector
from inception_tl.training.checkpoints import read_checkpoint


def limits_passes(trainer: L.Trainer, split: str) -> bool:
    """Whether the Trainer scores only part of `split`: fast_dev_run, overfit_batches, limit_*_batches below all."""
    limit = trainer.limit_test_batches if split == "test" else trainer.limit_val_batches
    return bool(trainer.fast_dev_run) or trainer.overfit_batches > 0 or limit not in (1.0, None)


def evaluate_split(
    trainer: L.Trainer,
    model: ImageClassifier,
    datamodule: ImageDataModule,
    collector: PredictionCollector,
    split: str,
    again: bool = False,
) -> tuple[dict[str, Any], Predictions]:
    """The metrics of one pass over `split` and every image's prediction from that same pass (`again`: a repeat
    with the calibration or thresholds just fitted, shown without a progress bar).

    The pass runs where the Trainer runs the model (the GPU, under the run's precision); the report
    never needs the model again, so it does not matter that Lightning moves it to the CPU afterwards.
    """
    step = trainer.test if split == "test" else trainer.validate
    metrics: dict[str, Any] = {}
    bar = trainer.progress_bar_callback
    if again and bar is not None:  # one bar per pass the user asked for: the repeat with the fitted values is ours
        bar.disable()
    try:
        for result in step(model, datamodule=datamodule, verbose=False):
            metrics.update({key: float(value) for key, value in result.items()})
    finally:
        if again and bar is not None:
            bar.enable()
    paths = [path for path, _ in datamodule.samples[split]]
    if limits_passes(trainer, split):  # a debug run: the metrics and report cover the images scored
        probabilities, labels, indices = collector.scored(split)
        if len(indices) < len(paths):
            limited = f"The {split} pass is limited (debug): {len(indices)} of {len(paths)} images."
            console.print(f"[yellow]{limited}[/yellow]")
        paths = [paths[index] for index in indices]
    else:
        probabilities, labels = collector.collected(split, len(paths))
    thresholds = model.objective.thresholds
    thresholds = np.asarray(thresholds) if thresholds is not None else None
    predictions = Predictions(probabilities, labels, paths, model.class_names, thresholds)
    metrics[f"{split}/confusion_matrix"] = confusion_counts(predictions).tolist()
    return metrics, predictions


@dataclass(frozen=True)
class Evaluation:
    """What evaluating a run's best checkpoint gives back: `metrics` (what metrics.json holds), the
    `predictions` of the report's `split` (test, or val without a test split), what the objective's post-fit step
    chose (`fitted`: the temperature or thresholds) and the checkpoint evaluated (None: the last weights)."""

    metrics: dict[str, Any]
    predictions: Predictions
    split: str
    fitted: dict[str, Any]
    best_checkpoint: str | None
    validation: Predictions | None = None  # the validation split's (a cross-validation fold's out-of-fold part)


def evaluate_best(
    trainer: L.Trainer,
    model: ImageClassifier,
    datamodule: ImageDataModule,
    collector: PredictionCollector,
    calibrate: bool,
) -> Evaluation:
    """Validation and test metrics of the best checkpoint (the current weights if none was saved), and the
    predictions of the report's split: test, or validation when there is no test split.

    The objective's post-fit step runs on the validation pass's predictions first (each label's decision
    threshold, or with `calibrate` a temperature: models/objectives.py), and the validation pass runs again
    with it, so that every metric is the fitted model's (what eval.py gives). The best weights are loaded into
    the model here rather than through Lightning's `ckpt_path`, which would also restore every callback to that
    epoch's state (the training history)."""
    monitoring = [cb for cb in trainer.checkpoint_callbacks if getattr(cb, "monitor", None)]  # not last.ckpt's
    best = monitoring[0].best_model_path if monitoring else ""
    if best:
        model.load_state_dict(read_checkpoint(best)["state_dict"])
    metrics, predictions = evaluate_split(trainer, model, datamodule, collector, "val")
    before = model.objective.fitted()
    warning = model.fit_objective(predictions.probabilities, predictions.labels, calibrate)
    if warning and trainer.is_global_zero:
        console.print(f"[yellow]{warning}[/yellow]")
    if model.objective.fitted() != before:  # the metrics of the fitted model
        metrics, predictions = evaluate_split(trainer, model, datamodule, collector, "val", again=True)
    validation = predictions
    if datamodule.has_test:
        test_metrics, predictions = evaluate_split(trainer, model, datamodule, collector, "test")
        metrics.update(test_metrics)
    metrics["class_names"] = model.class_names
    metrics.update(model.objective.fitted())  # the temperature, or each label's threshold
    metrics["best_checkpoint"] = best or None
    split = "test" if datamodule.has_test else "val"
    return Evaluation(metrics, predictions, split, model.objective.fitted(), best or None, validation)
