"""Class probabilities (multi-label: per-label probabilities) for every image of a split, kept with their paths,
and saved as a CSV.

`PredictionCollector` keeps them from the evaluation pass that computes the metrics; the report is written
from them, and the CSV lets anyone recompute a metric.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Predictions:
    """`probabilities[i]` is the softmax over `class_names` for the image at `paths[i]`, labelled `labels[i]`.

    Multi-label (`thresholds` given, one per label): `probabilities[i]` are per-label sigmoids, `labels[i]` the
    image's multi-hot row, and label k is predicted where its probability reaches `thresholds[k]`.
    """

    probabilities: np.ndarray
    labels: np.ndarray
    paths: list[str]
    class_names: list[str]
    thresholds: np.ndarray | None = None

    @property
    def multi_label(self) -> bool:
        return self.thresholds is not None

    @property
    def predicted(self) -> np.ndarray:
        """The predicted class of each image, or (multi-label) its multi-hot row of predicted labels."""
        if self.thresholds is not None:
            return (self.probabilities >= self.thresholds).astype(np.int64)
        return self.probabilities.argmax(axis=1)

    def label_set(self, row: np.ndarray) -> str:
        """A multi-hot row as its label names, separated by ";"."""
        return ";".join(name for name, on in zip(self.class_names, row, strict=True) if on)

    @property
    def confidence(self) -> np.ndarray:
        return self.probabilities.max(axis=1)

    def to_csv(self, path: Path) -> None:
        """One row per image: path, true and predicted class, confidence, then every class's probability
        (multi-label: path, true and predicted label sets, then every label's probability)."""
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            if self.multi_label:
                writer.writerow(["path", "labels", "predicted", *(f"p_{name}" for name in self.class_names)])
                for index, path_ in enumerate(self.paths):
                    probabilities = (f"{p:.6f}" for p in self.probabilities[index])
                    truth, predicted = self.label_set(self.labels[index]), self.label_set(self.predicted[index])
                    writer.writerow([path_, truth, predicted, *probabilities])
                return
            writer.writerow(["path", "label", "predicted", "confidence", *(f"p_{name}" for name in self.class_names)])
            for index, path_ in enumerate(self.paths):
                writer.writerow(
                    [
                        path_,
                        self.class_names[self.labels[index]],
                        self.class_names[self.predicted[index]],
                        f"{self.confidence[index]:.6f}",
                        *(f"{p:.6f}" for p in self.probabilities[index]),
                    ]
                )
