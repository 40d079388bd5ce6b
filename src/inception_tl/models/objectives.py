"""What the model is trained to do, chosen once per task type (timm's `task` objects): the loss, the probabilities,
the scores its metrics read, the metrics, and the step fitted on the validation split after training (a
temperature, or each label's threshold). The LightningModule calls these and does not branch on the task.

Example::

    objective = objective_for(4, {"multi_label": False})
    loss = objective.loss(logits, labels, weight=None, smoothing=0.1)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MultilabelExactMatch

from inception_tl.errors import ConfigError
from inception_tl.models.metrics import classification_metrics, multilabel_metrics
from inception_tl.models.temperature import bound_warning, fit_temperature
from inception_tl.models.thresholds import DEFAULT_THRESHOLD, choose_thresholds


class Objective(nn.Module, ABC):
    """The interface; `SingleLabel` and `MultiLabel` implement it. An nn.Module, so that what it holds on the
    device (a label's threshold) follows the model; it adds nothing to the state dict."""

    multi_label: bool = False

    @abstractmethod
    def loss(
        self, logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor | None, smoothing: float
    ) -> torch.Tensor:
        """The training (and evaluation) loss; `weight` per class or label, `smoothing` of the targets."""

    @abstractmethod
    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """What the model's outputs mean to a user: class probabilities, or each label's."""

    @abstractmethod
    def scores(self, logits: torch.Tensor, probabilities: torch.Tensor) -> torch.Tensor:
        """What the evaluation metrics are updated with, given the logits and their `probabilities` (computed
        once by the caller, which also keeps them for the report)."""

    @abstractmethod
    def accuracy_inputs(self, logits: torch.Tensor) -> torch.Tensor:
        """What training accuracy is updated with at every step: as little arithmetic as decides it."""

    @abstractmethod
    def metrics(self, num_classes: int, prefix: str) -> MetricCollection:
        """The evaluation metrics (torchmetrics), keys prefixed `val/` or `test/`."""

    @abstractmethod
    def train_accuracy(self, num_classes: int) -> Metric:
        """The accuracy logged per training epoch."""

    def calibrated(self, logits: torch.Tensor) -> torch.Tensor:
        """The logits of a prediction (outside training), with what was fitted after training applied."""
        return logits

    @abstractmethod
    def fit(self, probabilities: np.ndarray, labels: np.ndarray, calibrate: bool) -> str | None:
        """The post-fit step on the validation split's predictions; returns a warning worth printing, if any."""

    @abstractmethod
    def fitted(self) -> dict[str, Any]:
        """What the post-fit step chose, by the hyperparameter name the checkpoint keeps it under."""

    @property
    def thresholds(self) -> list[float] | None:
        """Each label's decision threshold (multi-label); None where the top class decides."""
        return None

    @abstractmethod
    def card(self) -> dict[str, Any]:
        """What an exported model's `model.json` says of its output."""


class SingleLabel(Objective):
    """One class per image: softmax, cross-entropy, and a temperature fitted on validation (`calibrate`)."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = float(temperature)  # divides the logits of predictions, never training's own

    def loss(self, logits, targets, weight, smoothing):
        return F.cross_entropy(logits, targets, weight=weight, label_smoothing=smoothing)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.float().softmax(dim=1)

    def scores(self, logits: torch.Tensor, probabilities: torch.Tensor) -> torch.Tensor:
        return probabilities

    def accuracy_inputs(self, logits: torch.Tensor) -> torch.Tensor:
        return logits  # the top class is the logits' argmax: no softmax in the training step

    def metrics(self, num_classes: int, prefix: str) -> MetricCollection:
        return classification_metrics(num_classes, prefix=prefix)

    def train_accuracy(self, num_classes: int) -> Metric:
        # Labels come from the project's own data path: torchmetrics' argument checks would sync every step.
        return MulticlassAccuracy(num_classes, average="micro", validate_args=False)

    def calibrated(self, logits: torch.Tensor) -> torch.Tensor:
        return logits if self.temperature == 1.0 else logits / self.temperature

    def fit(self, probabilities: np.ndarray, labels: np.ndarray, calibrate: bool) -> str | None:
        if not calibrate:
            return None
        self.temperature = fit_temperature(probabilities, labels)
        return bound_warning(self.temperature, len(labels))

    def fitted(self) -> dict[str, Any]:
        return {"temperature": self.temperature}

    def card(self) -> dict[str, Any]:
        return {
            "output": "class probabilities, shape (N, classes), in the order of class_names",
            "temperature": self.temperature,
        }


class MultiLabel(Objective):
    """Several labels per image: a sigmoid per label, binary cross-entropy (class weights as each label's
    `pos_weight`, smoothing towards 1/2), and each label's threshold chosen on validation to maximise its F1."""

    multi_label = True

    def __init__(self, num_labels: int, thresholds: Sequence[float] | None = None) -> None:
        super().__init__()
        self.num_labels = num_labels
        # Each label's threshold as the logit it stands for (0: DEFAULT_THRESHOLD), on the model's device.
        self.register_buffer("threshold_logits", torch.zeros(num_labels), persistent=False)
        self.chosen: list[float] | None = None
        if thresholds is not None:
            self.set_thresholds(thresholds)

    def set_thresholds(self, thresholds: Sequence[float]) -> None:
        """Label k is predicted when its probability is at least `thresholds[k]`."""
        values = [float(value) for value in thresholds]
        if len(values) != self.num_labels or not all(0.0 < value < 1.0 for value in values):
            raise ConfigError(f"thresholds={values}: give one per label, each between 0 and 1.")
        self.chosen = values
        self.threshold_logits.copy_(torch.logit(torch.tensor(values, dtype=torch.float64)).float())

    @property
    def thresholds(self) -> list[float]:
        return list(self.chosen) if self.chosen is not None else [DEFAULT_THRESHOLD] * self.num_labels

    def loss(self, logits, targets, weight, smoothing):
        # Multi-hot rows, or Mixup's soft ones; smoothed towards 1/2.
        targets = targets.to(logits.dtype) * (1 - smoothing) + smoothing / 2
        return F.binary_cross_entropy_with_logits(logits, targets, pos_weight=weight)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.float().sigmoid()

    def scores(self, logits: torch.Tensor, probabilities: torch.Tensor) -> torch.Tensor:
        """Sigmoid scores with each label's threshold moved to 0.5, where torchmetrics decides: a monotone change
        of each label's scores, so its average precision and AUROC are the probabilities'."""
        return self.accuracy_inputs(logits)

    def accuracy_inputs(self, logits: torch.Tensor) -> torch.Tensor:
        return (logits.float() - self.threshold_logits).sigmoid()

    def metrics(self, num_classes: int, prefix: str) -> MetricCollection:
        return multilabel_metrics(num_classes, prefix=prefix)

    def train_accuracy(self, num_classes: int) -> Metric:
        return MultilabelExactMatch(num_classes, validate_args=False)

    def fit(self, probabilities: np.ndarray, labels: np.ndarray, calibrate: bool) -> str | None:
        """Thresholds are chosen whatever `calibrate` says: they are the decision itself."""
        self.set_thresholds(choose_thresholds(probabilities, labels))
        return None

    def fitted(self) -> dict[str, Any]:
        return {"thresholds": self.thresholds}

    def card(self) -> dict[str, Any]:
        return {
            "multi_label": True,
            "output": "per-label probabilities (a sigmoid each), shape (N, labels), in the order of class_names; "
            "label k is predicted where its probability is at least thresholds[k]",
            "thresholds": self.thresholds,
        }


def objective_for(num_classes: int, hyperparameters: Mapping[str, Any]) -> Objective:
    """The objective of a model's hyperparameters (its task type, and what an earlier post-fit step chose: a
    checkpoint's temperature or thresholds)."""
    if hyperparameters.get("multi_label"):
        return MultiLabel(num_classes, hyperparameters.get("thresholds"))
    return SingleLabel(hyperparameters.get("temperature", 1.0))
