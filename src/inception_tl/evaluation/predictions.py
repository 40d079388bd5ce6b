"""Class probabilities for every image of a split, kept with their paths, and saved as a CSV.

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
    """`probabilities[i]` is the softmax over `class_names` for the image at `paths[i]`, labelled `labels[i]`."""

    probabilities: np.ndarray
    labels: np.ndarray
    paths: list[str]
    class_names: list[str]

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        return self.probabilities.max(axis=1)

    def to_csv(self, path: Path) -> None:
        """One row per image: path, true and predicted class, confidence, then every class's probability."""
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
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
