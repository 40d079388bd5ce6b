"""The report's figures, saved as PNG.

Drawn on `matplotlib.figure.Figure` objects, which render with Agg and never touch pyplot's global
state or a display: safe on headless machines and inside a user's notebook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from inception_tl.data.store.decode import load_rgb
from inception_tl.evaluation.predictions import Predictions
from inception_tl.evaluation.report import Reliability, RocCurve

DPI = 120


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    return path


def confusion_matrix(counts: np.ndarray, class_names: Sequence[str], path: Path) -> Path:
    """Counts and row-normalised (recall per true class), side by side."""
    counts = np.asarray(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = np.nan_to_num(counts / counts.sum(axis=1, keepdims=True))
    size = max(4.0, 0.5 * len(class_names) + 2)
    figure = Figure(figsize=(2 * size + 1, size))
    axes = figure.subplots(1, 2)
    for axis, values, title, fmt in ((axes[0], counts, "counts", "d"), (axes[1], normalised, "row-normalised", ".2f")):
        image = axis.imshow(values, cmap="Blues")
        figure.colorbar(image, ax=axis, fraction=0.046)
        axis.set(title=f"Confusion matrix ({title})", xlabel="predicted", ylabel="true")
        axis.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
        axis.set_yticks(range(len(class_names)), class_names)
        if len(class_names) <= 20:
            threshold = values.max() / 2 if values.size else 0
            for (row, column), value in np.ndenumerate(values):
                color = "white" if value > threshold else "black"
                axis.text(column, row, format(value, fmt), ha="center", va="center", color=color, fontsize=8)
    return _save(figure, path)


def training_curves(history: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Loss and accuracy per epoch, train vs validation, with the unfreeze steps as dashed lines."""
    figure = Figure(figsize=(11, 4))
    axes = figure.subplots(1, 2)
    epochs = [row["epoch"] for row in history]
    for axis, metric in zip(axes, ("loss", "acc"), strict=True):
        for split in ("train", "val"):
            values = [row.get(f"{split}/{metric}") for row in history]
            points = [(epoch, value) for epoch, value in zip(epochs, values, strict=True) if value is not None]
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", label=split)
        axis.set(title={"loss": "Loss", "acc": "Accuracy"}[metric], xlabel="epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        for row, previous in zip(history[1:], history[:-1], strict=False):
            if row.get("phase") is not None and row.get("phase") != previous.get("phase"):
                axis.axvline(row["epoch"] - 0.5, color="grey", linestyle="--", linewidth=1)
                axis.text(row["epoch"] - 0.5, axis.get_ylim()[1], " unfreeze", va="top", fontsize=8, color="grey")
        axis.legend()
    return _save(figure, path)


def roc_curve(roc: RocCurve, path: Path) -> Path:
    figure = Figure(figsize=(5, 5))
    axis = figure.subplots()
    axis.plot(roc.false_positive_rate, roc.true_positive_rate, label=f"AUC = {roc.auc:.3f}")
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    axis.set(title=f"ROC ({roc.positive_class} as positive)", xlabel="false positive rate", ylabel="true positive rate")
    axis.legend(loc="lower right")
    return _save(figure, path)


def reliability_diagram(bins: Reliability, path: Path, uncalibrated: Reliability | None = None) -> Path:
    """Accuracy per confidence bin against the diagonal of perfect calibration, with the ECE; with
    `uncalibrated`, the same before temperature scaling as outlined bars."""
    figure = Figure(figsize=(5, 5))
    axis = figure.subplots()
    centres = (bins.bin_edges[:-1] + bins.bin_edges[1:]) / 2
    width = bins.bin_edges[1] - bins.bin_edges[0]
    filled = bins.counts > 0
    label = "accuracy" if uncalibrated is None else f"calibrated (ECE {bins.ece:.3f})"
    axis.bar(centres[filled], bins.accuracy[filled], width=width, edgecolor="black", label=label)
    title = f"Reliability (ECE = {bins.ece:.3f})"
    if uncalibrated is not None:
        raw = uncalibrated.counts > 0
        axis.bar(
            centres[raw],
            uncalibrated.accuracy[raw],
            width=width,
            fill=False,
            edgecolor="tab:red",
            linewidth=1.5,
            label=f"before temperature scaling (ECE {uncalibrated.ece:.3f})",
        )
        title = "Reliability, before and after temperature scaling"
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    axis.set(title=title, xlabel="confidence", ylabel="accuracy")
    axis.set(xlim=(0, 1), ylim=(0, 1))
    axis.legend(loc="upper left")
    return _save(figure, path)


def image_grid(
    images: Sequence[np.ndarray], titles: Sequence[str], path: Path, empty: str, columns: int = 4
) -> Path:
    """Images in rows of `columns`, each titled; `empty` said when there are none."""
    rows = max(1, -(-len(images) // columns))
    figure = Figure(figsize=(3 * columns, 3.2 * rows))
    axes = figure.subplots(rows, columns, squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, title in zip(axes.flat, images, titles, strict=False):
        axis.imshow(image)
        axis.set_title(title, fontsize=9)
    if not images:
        axes.flat[0].text(0.5, 0.5, empty, ha="center", va="center")
    return _save(figure, path)


def mistakes_grid(predictions: Predictions, indices: Sequence[int], path: Path, columns: int = 4) -> Path:
    """The given (most confidently wrong) images, titled with true and predicted class and confidence."""
    names = predictions.class_names
    titles = [
        f"true: {names[predictions.labels[i]]}\npredicted: {names[predictions.predicted[i]]} "
        f"({predictions.confidence[i]:.2f})"
        for i in indices
    ]
    images = [load_rgb(predictions.paths[i]) for i in indices]
    return image_grid(images, titles, path, "no misclassified images", columns)


def lr_range_curve(rates: Sequence[float], losses: Sequence[float], suggested: float, path: Path) -> Path:
    """The range test's training loss against the head's learning rate (log scale), the suggestion marked."""
    # (smoothing in the suggestion, not here: the raw losses show how noisy the choice is)
    figure = Figure(figsize=(6, 4))
    axis = figure.subplots()
    axis.plot(rates, losses, color="tab:blue", label="training loss")
    axis.axvline(suggested, color="tab:red", linestyle="--", label=f"suggested optim.lr = {suggested:.2g}")
    axis.set(xscale="log", xlabel="learning rate of the head (other groups keep their ratio)", ylabel="loss")
    axis.set_title("Learning-rate range test")
    axis.legend()
    return _save(figure, path)
