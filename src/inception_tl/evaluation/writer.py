"""Write the report of a split into a folder and hand its figures to the active loggers.

Files: `per_class.csv` / `per_class.json` (precision, recall, F1, support; macro and weighted
averages; accuracy; ECE; binary AUROC), `predictions.csv`, and the PNGs `confusion_matrix`,
`curves` (when there is a training history), `roc` (two classes), `reliability` and `mistakes`.
Multi-label: `per_label.csv` / `per_label.json`, `most_wrong.csv`, `predictions.csv`, and `pr_curves` and
`curves` (evaluation/multilabel_report.py).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from lightning.pytorch.loggers import Logger, TensorBoardLogger, WandbLogger
from PIL import Image
from rich.table import Table

from inception_tl.console import console
from inception_tl.evaluation import plots
from inception_tl.evaluation.bootstrap import INTERVAL_METHOD, bootstrap_intervals
from inception_tl.evaluation.calibration import negative_log_likelihood, rescaled
from inception_tl.evaluation.multilabel_report import write_multilabel_files
from inception_tl.evaluation.predictions import Predictions
from inception_tl.evaluation.report import (
    Reliability,
    RocCurve,
    binary_roc,
    most_confident_mistakes,
    per_class_rows,
    reliability,
)

COLUMNS = ("class", "precision", "recall", "f1", "support")
# The W&B predictions table uploads every image it shows: the first this many (all of predictions.csv on disk).
MAX_TABLE_IMAGES = 1000


def confusion_counts(predictions: Predictions) -> np.ndarray:
    """counts[true, predicted]; multi-label, per label: counts[label, true (0/1), predicted (0/1)]."""
    if predictions.multi_label:
        flat = predictions.labels * 2 + predictions.predicted  # (N, labels): 0 tn, 1 fp, 2 fn, 3 tp
        return np.stack([np.bincount(column, minlength=4).reshape(2, 2) for column in flat.T])
    size = len(predictions.class_names)
    flat = predictions.labels * size + predictions.predicted
    return np.bincount(flat, minlength=size * size).reshape(size, size)


def print_per_class(rows: Sequence[Mapping[str, Any]], title: str) -> None:
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "class" else "right")
    for row in rows:
        cells = [row["class"]]
        cells += ["" if row[key] is None else f"{row[key]:.4f}" for key in ("precision", "recall", "f1")]
        table.add_row(*cells, str(row["support"]), end_section=row["class"] == rows[-4]["class"])
    console.print(table)


def log_report(loggers: Sequence[Logger], figures: Mapping[str, Path], predictions: Predictions, prefix: str) -> None:
    """Figures to W&B and TensorBoard, and to W&B a table of predictions with their images.

    The CSV logger gets nothing: the PNGs and `predictions.csv` are in the run directory.
    """
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            import wandb

            if figures:
                images = [str(path) for path in figures.values()]
                logger.log_image(key=f"{prefix}/figures", images=images, caption=list(figures))
            shown = range(min(len(predictions.paths), MAX_TABLE_IMAGES))
            names = predictions.class_names
            rows = [
                [
                    wandb.Image(predictions.paths[i]),
                    predictions.paths[i],
                    *(
                        (predictions.label_set(predictions.labels[i]), predictions.label_set(predictions.predicted[i]))
                        if predictions.multi_label
                        else (names[predictions.labels[i]], names[predictions.predicted[i]])
                    ),
                    float(predictions.confidence[i]),
                ]
                for i in shown
            ]
            columns = ["image", "path", "true", "predicted", "confidence"]
            logger.log_table(key=f"{prefix}/predictions", columns=columns, data=rows)
        elif isinstance(logger, TensorBoardLogger):
            for name, path in figures.items():
                with Image.open(path) as image:
                    pixels = np.asarray(image.convert("RGB"))
                logger.experiment.add_image(f"{prefix}/{name}", pixels, dataformats="HWC")
            logger.experiment.flush()


def write_report(
    directory: Path,
    predictions: Predictions,
    split: str,
    history: Sequence[Mapping[str, Any]] = (),
    loggers: Sequence[Logger] = (),
    figures: bool = True,
    temperature: float = 1.0,
) -> dict[str, Any]:
    """Write every file of the report for `split` (the PNGs only with `figures`); returns the summary also saved
    as `per_class.json`. With a calibration `temperature` (the predictions are calibrated), the summary and the
    reliability diagram also give the uncalibrated model's ECE and negative log-likelihood."""
    directory.mkdir(parents=True, exist_ok=True)
    if predictions.multi_label:
        return write_multilabel_report(directory, predictions, split, history, loggers, figures)
    rows = per_class_rows(predictions)
    bins = reliability(predictions)
    roc = binary_roc(predictions)
    summary = {"split": split, "per_class": rows, "ece": bins.ece, "auroc": roc.auc if roc else None}
    summary["nll"] = negative_log_likelihood(predictions.probabilities, predictions.labels)
    uncalibrated = None
    if temperature != 1.0:
        raw = replace(predictions, probabilities=rescaled(predictions.probabilities, 1 / temperature))
        uncalibrated = reliability(raw)
        summary |= {
            "temperature": temperature,
            "ece_uncalibrated": uncalibrated.ece,
            "nll_uncalibrated": negative_log_likelihood(raw.probabilities, raw.labels),
        }

    with open(directory / "per_class.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (directory / "per_class.json").write_text(json.dumps(summary, indent=2))
    predictions.to_csv(directory / "predictions.csv")

    drawn = draw_figures(directory, predictions, bins, uncalibrated, roc, history) if figures else {}
    print_per_class(rows, f"Per-class report ({split}, {len(predictions.labels)} images)")
    calibration = f"Calibration ({split}): ECE {bins.ece:.4f}, NLL {summary['nll']:.4f}"
    if uncalibrated is not None:
        calibration += (
            f" (before temperature scaling: ECE {uncalibrated.ece:.4f}, NLL {summary['nll_uncalibrated']:.4f};"
            f" T = {temperature:.3g})"
        )
    console.print(calibration)
    log_report(loggers, drawn, predictions, prefix=split)
    return summary


def write_multilabel_report(
    directory: Path,
    predictions: Predictions,
    split: str,
    history: Sequence[Mapping[str, Any]],
    loggers: Sequence[Logger],
    figures: bool,
) -> dict[str, Any]:
    """The multi-label report (evaluation/multilabel_report.py), with the training curves."""
    summary, drawn = write_multilabel_files(directory, predictions, split, figures)
    if figures and history:
        drawn["curves"] = plots.training_curves(history, directory / "curves.png")
    log_report(loggers, drawn, predictions, prefix=split)
    return summary


def draw_figures(
    directory: Path,
    predictions: Predictions,
    bins: Reliability,
    uncalibrated: Reliability | None,
    roc: RocCurve | None,
    history: Sequence[Mapping[str, Any]],
) -> dict[str, Path]:
    """The report's PNGs, by name."""
    names = predictions.class_names
    figures = {
        "confusion_matrix": plots.confusion_matrix(
            confusion_counts(predictions), names, directory / "confusion_matrix.png"
        )
    }
    if history:
        figures["curves"] = plots.training_curves(history, directory / "curves.png")
    if roc is not None:
        figures["roc"] = plots.roc_curve(roc, directory / "roc.png")
    figures["reliability"] = plots.reliability_diagram(bins, directory / "reliability.png", uncalibrated)
    mistakes = most_confident_mistakes(predictions)
    figures["mistakes"] = plots.mistakes_grid(predictions, mistakes, directory / "mistakes.png")
    return figures


def print_metrics(metrics: dict[str, Any]) -> None:
    """The metrics table; a metric with a bootstrap interval as `0.935 (0.912-0.956)`."""
    table = Table(title="Final metrics (best checkpoint)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    intervals = metrics.get("intervals", {})
    for key, value in metrics.items():
        if isinstance(value, float):
            table.add_row(key, f"{value:.4f}" + (f" ({format_interval(intervals[key])})" if key in intervals else ""))
    console.print(table)
    if intervals:
        console.print(f"In brackets: {metrics['interval_method']}.")
    if "thresholds" in metrics:  # multi-label: each label's decision threshold, chosen on validation
        pairs = zip(metrics["class_names"], metrics["thresholds"], strict=True)
        chosen = ", ".join(f"{name} {value:.3f}" for name, value in pairs)
        console.print(f"Thresholds (chosen on validation): {chosen}")


def format_interval(interval: Sequence[float]) -> str:
    return f"{interval[0]:.4f}-{interval[1]:.4f}"


def write_outputs(
    output_dir: Path,
    metrics: dict[str, Any],
    predictions: Predictions,
    split: str,
    history: list[dict[str, Any]],
    loggers: list[Logger],
    figures: bool = True,
) -> None:
    """metrics.json, the metrics table and the report of `split` (rank zero only). The headline metrics get their
    95% bootstrap intervals (`evaluation/bootstrap.py`) from the split's predictions."""
    intervals = bootstrap_intervals(predictions)
    if intervals:
        metrics["intervals"] = {f"{split}/{name}": interval.as_list() for name, interval in intervals.items()}
        metrics["interval_method"] = INTERVAL_METHOD
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print_metrics(metrics)
    temperature = metrics.get("temperature", 1.0)
    write_report(output_dir / "report", predictions, split, history, loggers, figures, temperature)
    console.print(f"Outputs in [bold]{output_dir}[/bold]")
