"""The aggregate of a cross-validation: every fold's metrics summarised (mean, standard deviation, range and a 95%
interval over the folds), and the out-of-fold predictions, every training image predicted once by the fold that
did not train on it, reported as one run's split (`oof`): one confusion matrix, one most-wrong grid.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.markup import escape
from rich.table import Table
from scipy import stats

from inception_tl.console import console
from inception_tl.evaluation.predictions import Predictions
from inception_tl.evaluation.writer import write_outputs
from inception_tl.models.objectives import objective_for

# What each fold writes for the aggregate: its validation fold's predictions, beside its report.
OOF_FILE = "val_predictions.csv"


def fold_summary(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample standard deviation, range and the 95% t-interval of the mean over the folds."""
    array = np.asarray(values, dtype=float)
    mean, std = float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0
    half = float(stats.t.ppf(0.975, len(array) - 1)) * std / math.sqrt(len(array)) if len(array) > 1 else 0.0
    return {"mean": mean, "std": std, "min": float(array.min()), "max": float(array.max()),
            "interval": [mean - half, mean + half], "folds": array.tolist()}


def read_oof(path: Path, class_names: Sequence[str], thresholds: Sequence[float] | None) -> Predictions:
    """A fold's validation predictions, as `Predictions.to_csv` wrote them."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    probabilities = np.array([[float(row[f"p_{name}"]) for name in class_names] for row in rows], dtype=np.float32)
    if thresholds is not None:
        index = {name: k for k, name in enumerate(class_names)}
        labels = np.zeros((len(rows), len(class_names)), dtype=np.int64)
        for i, row in enumerate(rows):
            for name in filter(None, row["labels"].split(";")):
                labels[i, index[name]] = 1
    else:
        labels = np.array([list(class_names).index(row["label"]) for row in rows], dtype=np.int64)
    return Predictions(probabilities, labels, [row["path"] for row in rows], list(class_names),
                       np.asarray(thresholds) if thresholds is not None else None)


def oof_metrics(predictions: Predictions) -> dict[str, float]:
    """The headline metrics of the pooled out-of-fold predictions, as the objective scores a run's."""
    import torch

    classes = len(predictions.class_names)
    thresholds = None if predictions.thresholds is None else predictions.thresholds.tolist()
    objective = objective_for(classes, {"multi_label": predictions.multi_label, "thresholds": thresholds})
    probabilities = torch.from_numpy(predictions.probabilities)
    collection = objective.metrics(classes, prefix="oof/")
    collection.update(objective.scores(torch.logit(probabilities, eps=1e-7), probabilities),
                      torch.from_numpy(predictions.labels))
    return {key: float(value) for key, value in collection.compute().items()}


def aggregate_folds(root: Path, folds: int, final_command: str, figures: bool) -> dict[str, Any]:
    """`cv/` under `root`: summary.json (per-metric summaries, the per-fold table, the OOF metrics and intervals,
    the final command), oof_predictions.csv and the OOF report; prints the table. Returns the summary."""
    runs = [json.loads((root / f"fold_{k}" / "metrics.json").read_text()) for k in range(folds)]
    keys = [key for key, value in runs[0].items() if isinstance(value, float) and "/" in key]
    summary = {key: fold_summary([run[key] for run in runs]) for key in keys if all(key in run for run in runs)}
    class_names = runs[0]["class_names"]
    parts = [read_oof(root / f"fold_{k}" / "report" / OOF_FILE, class_names, runs[k].get("thresholds"))
             for k in range(folds)]
    thresholds = runs[0].get("thresholds")
    pooled = Predictions(
        np.concatenate([part.probabilities for part in parts]),
        np.concatenate([part.labels for part in parts]),
        [path for part in parts for path in part.paths],
        class_names,
        np.mean([run["thresholds"] for run in runs], axis=0) if thresholds is not None else None,
    )
    directory = root / "cv"
    directory.mkdir(parents=True, exist_ok=True)
    pooled.to_csv(directory / "oof_predictions.csv")
    metrics: dict[str, Any] = {**oof_metrics(pooled), "class_names": class_names}
    write_outputs(directory, metrics, pooled, "oof", [], [], figures)  # metrics.json and the report, intervals too
    result = {"folds": folds, "summary": summary, "per_fold": [{key: run.get(key) for key in summary} for run in runs],
              "out_of_fold": {key: value for key, value in metrics.items() if key != "class_names"},
              "images": len(pooled.paths), "final_command": final_command}
    (directory / "summary.json").write_text(json.dumps(result, indent=2))
    print_summary(summary, folds)
    console.print(f"Out-of-fold predictions of all {len(pooled.paths)} images: {directory / 'oof_predictions.csv'}")
    console.print(f"Train the final model on all of it: [bold]{escape(final_command)}[/bold]")
    return result


def print_summary(summary: dict[str, dict[str, Any]], folds: int) -> None:
    table = Table(title=f"Cross-validation, {folds} folds")
    for column in ("metric", "mean", "std", "range", "95% interval of the mean"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for key, found in summary.items():
        table.add_row(key, f"{found['mean']:.4f}", f"{found['std']:.4f}", f"{found['min']:.4f}-{found['max']:.4f}",
                      f"{found['interval'][0]:.4f}-{found['interval'][1]:.4f}")
    console.print(table)
