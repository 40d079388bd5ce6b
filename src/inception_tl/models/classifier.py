"""The LightningModule: backbone + head, cross-entropy, torchmetrics validation and test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from inception_tl.evaluation.metrics import classification_metrics
from inception_tl.models.backbone import create_backbone
from inception_tl.models.head import build_head
from inception_tl.optim import build_optimizer, build_scheduler


class ImageClassifier(L.LightningModule):
    """Fine-tunes a timm Inception backbone with a new head.

    The checkpoint's hyperparameters carry everything needed to use the model alone: the
    backbone and head config, the class names and the preprocessing (timm data config).

    Example::

        model = ImageClassifier(backbone={"name": "inception_v3", "pretrained": False},
                                class_names=["cat", "dog"], preprocessing=datamodule.preprocessing)
    """

    def __init__(
        self,
        backbone: Mapping[str, Any],
        class_names: Sequence[str],
        preprocessing: Mapping[str, Any],
        optimizer: Mapping[str, Any] | None = None,
        scheduler: Mapping[str, Any] | None = None,
        label_smoothing: float = 0.0,
        load_weights: bool = True,
    ) -> None:
        """`load_weights=False` skips the hub or file weights: a checkpoint will overwrite them anyway."""
        super().__init__()
        self.save_hyperparameters(ignore=["load_weights"])
        head = dict(backbone.get("head") or {"kind": "linear"})
        self.backbone = create_backbone(
            backbone["name"],
            pretrained=bool(backbone.get("pretrained", True)) and load_weights,
            weights=backbone.get("weights") if load_weights else None,
            drop_rate=float(backbone.get("drop_rate", 0.0)),
        )
        num_classes = len(class_names)
        self.head = build_head(self.backbone.num_features, num_classes, **head)
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_metrics = classification_metrics(num_classes, prefix="val/")
        self.test_metrics = classification_metrics(num_classes, prefix="test/")
        self.test_confusion = MulticlassConfusionMatrix(num_classes)
        self.confusion_matrix: list[list[int]] | None = None

    @property
    def class_names(self) -> list[str]:
        return list(self.hparams.class_names)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels, label_smoothing=self.hparams.label_smoothing)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        loss = self._loss(logits, labels)
        self.train_acc(logits, labels)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(labels))
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True, batch_size=len(labels))
        return loss

    def _evaluate(self, batch, metrics, stage: str) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        loss = self._loss(logits, labels)
        probabilities = logits.float().softmax(dim=1)
        metrics.update(probabilities, labels)
        self.log(f"{stage}/loss", loss, on_epoch=True, prog_bar=True, sync_dist=True, batch_size=len(labels))
        return probabilities

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, self.val_metrics, "val")

    def on_validation_epoch_end(self) -> None:
        # The sanity check sees a couple of batches, often of one class: their scores mean nothing.
        if not self.trainer.sanity_checking:
            self.log_dict(self.val_metrics.compute())
        self.val_metrics.reset()

    def test_step(self, batch, batch_idx: int) -> None:
        probabilities = self._evaluate(batch, self.test_metrics, "test")
        self.test_confusion.update(probabilities, batch[1])

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute())
        self.test_metrics.reset()
        self.confusion_matrix = self.test_confusion.compute().tolist()
        self.test_confusion.reset()

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = build_optimizer(self, self.hparams.optimizer or {"opt": "adamw", "lr": 1e-3})
        config = {"optimizer": optimizer}
        if self.hparams.scheduler:
            total_steps = int(self.trainer.estimated_stepping_batches)
            steps_per_epoch = max(total_steps // max(self.trainer.max_epochs or 1, 1), 1)
            config["lr_scheduler"] = build_scheduler(optimizer, self.hparams.scheduler, total_steps, steps_per_epoch)
        return config
