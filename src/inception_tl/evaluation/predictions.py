"""Class probabilities for every image of a split, kept with their paths, and saved as a CSV.

The report, `eval.py` and `predict.py` all start from these; the CSV lets anyone recompute a metric.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


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


@torch.inference_mode()
def predict_dataset(
    model: torch.nn.Module,
    dataset: Dataset,
    paths: Sequence[str],
    class_names: Sequence[str],
    batch_size: int = 32,
    num_workers: int = 0,
) -> Predictions:
    """Run `model` (in eval mode, on its own device) over a dataset of (image, label) pairs, in order."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    probabilities, labels = [], []
    try:
        for images, batch_labels in DataLoader(dataset, batch_size=batch_size, num_workers=num_workers):
            logits = model(images.to(device))
            probabilities.append(logits.float().softmax(dim=1).cpu())
            labels.append(torch.as_tensor(batch_labels))
    finally:
        model.train(was_training)
    return Predictions(
        probabilities=torch.cat(probabilities).numpy(),
        labels=torch.cat(labels).numpy(),
        paths=list(paths),
        class_names=list(class_names),
    )
