"""The numbers of the report: per-class precision / recall / F1 / support, calibration, and the ROC curve.

All computed with torchmetrics from saved `Predictions`, so they match the run's own metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torchmetrics.classification import (
    BinaryAUROC,
    BinaryROC,
    MulticlassAccuracy,
    MulticlassCalibrationError,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from inception_tl.evaluation.predictions import Predictions

CALIBRATION_BINS = 15


def _tensors(predictions: Predictions) -> tuple[torch.Tensor, torch.Tensor, int]:
    return (
        torch.from_numpy(predictions.probabilities),
        torch.from_numpy(predictions.labels).long(),
        len(predictions.class_names),
    )


def per_class_rows(predictions: Predictions) -> list[dict[str, Any]]:
    """sklearn's classification report: one row per class, macro and weighted averages, then accuracy."""
    probabilities, labels, num_classes = _tensors(predictions)
    scores = {}
    for average in ("none", "macro", "weighted"):
        scores[average] = {
            name: metric(num_classes, average=average)(probabilities, labels)
            for name, metric in (
                ("precision", MulticlassPrecision),
                ("recall", MulticlassRecall),
                ("f1", MulticlassF1Score),
            )
        }
    support = np.bincount(predictions.labels, minlength=num_classes)
    rows = [
        {
            "class": name,
            **{key: float(values[index]) for key, values in scores["none"].items()},
            "support": int(support[index]),
        }
        for index, name in enumerate(predictions.class_names)
    ]
    for average in ("macro", "weighted"):
        rows.append(
            {
                "class": f"{average} avg",
                **{key: float(value) for key, value in scores[average].items()},
                "support": int(support.sum()),
            }
        )
    accuracy = float(MulticlassAccuracy(num_classes, average="micro")(probabilities, labels))
    rows.append({"class": "accuracy", "precision": None, "recall": None, "f1": accuracy, "support": int(support.sum())})
    return rows


@dataclass(frozen=True)
class Reliability:
    """Confidence bins: mean confidence, accuracy and count per bin, and the expected calibration error."""

    bin_edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray
    ece: float


def reliability(predictions: Predictions, bins: int = CALIBRATION_BINS) -> Reliability:
    """ECE from torchmetrics (L1, equal-width bins); the per-bin figures for the reliability diagram."""
    probabilities, labels, num_classes = _tensors(predictions)
    ece = float(MulticlassCalibrationError(num_classes, n_bins=bins, norm="l1")(probabilities, labels))
    edges = np.linspace(0.0, 1.0, bins + 1)
    confidence = predictions.confidence
    correct = predictions.predicted == predictions.labels
    # Right-closed bins, as torchmetrics bins confidences.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore"):
        mean_confidence = np.bincount(which, weights=confidence, minlength=bins) / counts
        accuracy = np.bincount(which, weights=correct.astype(float), minlength=bins) / counts
    return Reliability(edges, mean_confidence, accuracy, counts, ece)


@dataclass(frozen=True)
class RocCurve:
    false_positive_rate: np.ndarray
    true_positive_rate: np.ndarray
    auc: float
    positive_class: str


def binary_roc(predictions: Predictions) -> RocCurve | None:
    """The ROC curve of the second class against the first; None unless there are exactly two classes."""
    if len(predictions.class_names) != 2:
        return None
    scores, labels = torch.from_numpy(predictions.probabilities[:, 1]), torch.from_numpy(predictions.labels).long()
    fpr, tpr, _ = BinaryROC()(scores, labels)
    auc = float(BinaryAUROC()(scores, labels))
    return RocCurve(fpr.numpy(), tpr.numpy(), auc, predictions.class_names[1])


def most_confident_mistakes(predictions: Predictions, count: int = 16) -> list[int]:
    """Indices of wrongly classified images, the most confidently wrong first."""
    wrong = np.flatnonzero(predictions.predicted != predictions.labels)
    return wrong[np.argsort(-predictions.confidence[wrong], kind="stable")][:count].tolist()
