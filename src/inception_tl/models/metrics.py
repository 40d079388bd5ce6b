"""Classification metrics as torchmetrics collections."""

from __future__ import annotations

from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
    MultilabelAUROC,
    MultilabelAveragePrecision,
    MultilabelExactMatch,
    MultilabelF1Score,
    MultilabelPrecision,
    MultilabelRecall,
)


def classification_metrics(num_classes: int, prefix: str) -> MetricCollection:
    """Accuracy, macro precision / recall / F1 and AUROC, fed with class probabilities.

    One multiclass code path serves two classes too: one-vs-rest macro AUROC over two classes
    equals the binary AUROC, since each class's curve is the other's mirrored. The labels come from the
    project's own data path, so torchmetrics' argument checks (a host sync per batch on a GPU) are off.
    """
    checks = {"validate_args": False}
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(num_classes, average="micro", **checks),
            "precision": MulticlassPrecision(num_classes, average="macro", **checks),
            "recall": MulticlassRecall(num_classes, average="macro", **checks),
            "f1": MulticlassF1Score(num_classes, average="macro", **checks),
            "auroc": MulticlassAUROC(num_classes, average="macro", **checks),
        },
        prefix=prefix,
    )


def multilabel_metrics(num_labels: int, prefix: str) -> MetricCollection:
    """Multi-label: `acc` is exact match (every label of the image right), precision / recall / F1 macro over
    the labels, `f1_micro` over every decision, `map` the mean of the labels' average precisions, `auroc`
    macro. Fed with scores whose decision threshold is 0.5 (the model shifts each label's own threshold
    there); average precision and AUROC, which rank, are the same for the raw probabilities."""
    checks = {"validate_args": False}
    return MetricCollection(
        {
            "acc": MultilabelExactMatch(num_labels, **checks),
            "precision": MultilabelPrecision(num_labels, average="macro", **checks),
            "recall": MultilabelRecall(num_labels, average="macro", **checks),
            "f1": MultilabelF1Score(num_labels, average="macro", **checks),
            "f1_micro": MultilabelF1Score(num_labels, average="micro", **checks),
            "map": MultilabelAveragePrecision(num_labels, average="macro", **checks),
            "auroc": MultilabelAUROC(num_labels, average="macro", **checks),
        },
        prefix=prefix,
    )
