"""The report of a multi-label split: a row per label (its threshold, precision, recall, F1, average precision,
AUROC, support), the images most wrong for each label (its highest-scored negatives and lowest-scored
positives: listed, and drawn), a precision-recall curve per label, and the predictions.

Computed with torchmetrics from the saved `Predictions`, at each label's own threshold, so they match the run's
metrics.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from rich.table import Table
from torchmetrics.functional.classification import (
    multilabel_auroc,
    multilabel_average_precision,
    multilabel_f1_score,
    multilabel_precision,
    multilabel_precision_recall_curve,
    multilabel_recall,
)

from inception_tl.console import console
from inception_tl.data.store.decode import load_rgb
from inception_tl.evaluation.predictions import Predictions

COLUMNS = ("label", "threshold", "precision", "recall", "f1", "ap", "auroc", "support")
# Per label: this many of its most wrong images of each kind (false positives, false negatives).
MOST_WRONG = 5


def per_label_rows(predictions: Predictions) -> list[dict[str, Any]]:
    """A row per label at its own threshold, then the macro average over the labels."""
    assert predictions.thresholds is not None
    labels = torch.from_numpy(predictions.labels).long()
    count = len(predictions.class_names)
    decided = torch.from_numpy(predictions.predicted).float()  # 0/1 at each label's threshold
    scores = torch.from_numpy(predictions.probabilities).float()
    values = {}
    for average in ("none", "macro"):
        values[average] = {
            "precision": multilabel_precision(decided, labels, count, average=average),
            "recall": multilabel_recall(decided, labels, count, average=average),
            "f1": multilabel_f1_score(decided, labels, count, average=average),
            "ap": multilabel_average_precision(scores, labels, count, average=average),
            "auroc": multilabel_auroc(scores, labels, count, average=average),
        }
    support = predictions.labels.sum(axis=0)
    rows = [
        {
            "label": name,
            "threshold": float(predictions.thresholds[index]),
            **{key: float(value[index]) for key, value in values["none"].items()},
            "support": int(support[index]),
        }
        for index, name in enumerate(predictions.class_names)
    ]
    macro = {key: float(value) for key, value in values["macro"].items()}
    rows.append({"label": "macro avg", "threshold": None, **macro, "support": int(support.sum())})
    return rows


def most_wrong(predictions: Predictions, count: int = MOST_WRONG) -> list[dict[str, Any]]:
    """For each label, its most confident false positives and least confident false negatives."""
    rows = []
    for index, name in enumerate(predictions.class_names):
        probability = predictions.probabilities[:, index]
        truth, predicted = predictions.labels[:, index] > 0, predictions.predicted[:, index] > 0
        false_positives = np.flatnonzero(~truth & predicted)
        false_negatives = np.flatnonzero(truth & ~predicted)
        for kind, found, order in (("false positive", false_positives, -1), ("false negative", false_negatives, 1)):
            for image in found[np.argsort(order * probability[found], kind="stable")][:count]:
                rows.append(
                    {
                        "label": name,
                        "kind": kind,
                        "path": predictions.paths[image],
                        "probability": float(probability[image]),
                        "labels": predictions.label_set(predictions.labels[image]),
                    }
                )
    return rows


def pr_curves(predictions: Predictions, path: Path) -> Path:
    """A precision-recall curve per label, its threshold marked."""
    assert predictions.thresholds is not None
    scores = torch.from_numpy(predictions.probabilities).float()
    labels = torch.from_numpy(predictions.labels).long()
    precision, recall, _ = multilabel_precision_recall_curve(scores, labels, len(predictions.class_names))
    figure = Figure(figsize=(6, 5))
    axis = figure.subplots()
    decided = predictions.predicted
    for index, name in enumerate(predictions.class_names):
        (line,) = axis.plot(recall[index].numpy(), precision[index].numpy(), label=name)
        truth = predictions.labels[:, index] > 0
        hits = int((truth & (decided[:, index] > 0)).sum())
        chosen = (hits / max(int(decided[:, index].sum()), 1), hits / max(int(truth.sum()), 1))
        axis.plot(chosen[1], chosen[0], "o", color=line.get_color())
    axis.set(title="Precision-recall per label (dot: its threshold)", xlabel="recall", ylabel="precision")
    axis.set(xlim=(0, 1.02), ylim=(0, 1.02))
    axis.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path


def most_wrong_grid(
    predictions: Predictions, wrong: Sequence[Mapping[str, Any]], path: Path, per_kind: int = 2
) -> Path:
    """A row per label: its `per_kind` most confident false positives, then its least confident false negatives,
    each titled with its probability and true labels."""
    names = predictions.class_names
    columns = 2 * per_kind
    figure = Figure(figsize=(2.6 * columns, 2.9 * len(names)))
    axes = figure.subplots(len(names), columns, squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for row, name in enumerate(names):
        for offset, kind in enumerate(("false positive", "false negative")):
            shown = [item for item in wrong if item["label"] == name and item["kind"] == kind][:per_kind]
            for column, item in enumerate(shown):
                axis = axes[row, offset * per_kind + column]
                axis.imshow(load_rgb(item["path"]))
                title = f"{name}: {kind} (p {item['probability']:.2f})\ntrue: {item['labels'] or '-'}"
                axis.set_title(title, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path


def print_per_label(rows: Sequence[Mapping[str, Any]], title: str) -> None:
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "label" else "right")
    for row in rows:
        cells = ["" if row[key] is None else f"{row[key]:.4f}" for key in COLUMNS[1:-1]]
        table.add_row(row["label"], *cells, str(row["support"]), end_section=row is rows[-2])
    console.print(table)


def write_multilabel_files(
    directory: Path, predictions: Predictions, split: str, figures: bool
) -> tuple[dict[str, Any], dict[str, Path]]:
    """per_label.csv / per_label.json, most_wrong.csv, predictions.csv and (with `figures`) pr_curves.png and
    most_wrong.png;
    returns the summary and the figures drawn."""
    rows = per_label_rows(predictions)
    with open(directory / "per_label.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    wrong = most_wrong(predictions)
    with open(directory / "most_wrong.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=("label", "kind", "path", "probability", "labels"))
        writer.writeheader()
        writer.writerows(wrong)
    predictions.to_csv(directory / "predictions.csv")
    summary = {"split": split, "per_label": rows}
    (directory / "per_label.json").write_text(json.dumps(summary, indent=2))
    drawn = {}
    if figures:
        drawn["pr_curves"] = pr_curves(predictions, directory / "pr_curves.png")
        drawn["most_wrong"] = most_wrong_grid(predictions, wrong, directory / "most_wrong.png")
    print_per_label(rows, f"Per-label report ({split}, {len(predictions.paths)} images)")
    return summary, drawn
