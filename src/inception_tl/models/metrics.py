"""Classification metrics as torchmetrics collections."""

from __future__ import annotations

from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
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
