"""Feature extraction done once: when only the head can learn, the backbone runs once per image, not per epoch.

With `finetune=linear_probe` the backbone is frozen for the whole run (its BatchNorm in inference
mode), and with `data.augment.enabled=false` every epoch shows it the same images, so every epoch
would compute the same pooled features again. This callback computes them once, on the training
device and under the run's precision, and the head then trains on them: an epoch costs a pass of the
head over a tensor. The order of batches, the dropout masks and the metrics are those of the
uncached run (a test checks the head's weights agree).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import lightning as L
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader

# Splits the fit loop reads; test runs after fitting, on images.
FIT_SPLITS = ("train", "val")


@runtime_checkable
class ServesFeatures(Protocol):
    """A data module that can serve a split's features in place of its images (`ImageDataModule`)."""

    augments_training: bool

    def loader(self, split: str, whole: bool = False) -> DataLoader: ...

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any: ...

    def use_features(self, features: Mapping[str, torch.Tensor]) -> None: ...


@runtime_checkable
class ComputesFeatures(Protocol):
    """A model with a freeze schedule whose pooled backbone features can be computed alone (`ImageClassifier`)."""

    freeze_schedule: Any
    finetune: Any
    mixes_inputs: bool

    def pooled_features(self, images: torch.Tensor) -> torch.Tensor: ...


class FeatureCache(Callback):
    """Serves pooled backbone features instead of images while fitting, when nothing but the head trains.

    Applies to an `ImageClassifier` whose schedule never releases the backbone, with frozen BatchNorm
    in inference mode (`finetune.train_bn=false`), on an `ImageDataModule` without augmentation.

    Example::

        trainer = L.Trainer(callbacks=[FreezeScheduleCallback(), FeatureCache(enabled=True)])
    """

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._active = False

    @staticmethod
    def reason_not_to(pl_module: L.LightningModule, datamodule: object) -> str | None:
        """Why the features cannot be cached for this run (None: they can)."""
        if not isinstance(datamodule, ServesFeatures) or not isinstance(pl_module, ComputesFeatures):
            return "the data module or model does not support it"
        if pl_module.freeze_schedule.releases:
            return "the backbone trains at some point (only finetune=linear_probe keeps it frozen throughout)"
        if pl_module.finetune.train_bn:
            return "finetune.train_bn=true updates BatchNorm statistics at every step"
        if pl_module.mixes_inputs:
            return "Mixup/CutMix (mixup.*) mixes the images of every training batch"
        if datamodule.augments_training:
            return "training images are augmented (set data.augment.enabled=false to train on fixed features)"
        return None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        reason = self.reason_not_to(pl_module, datamodule)
        if not self.enabled or reason is not None:
            if self.enabled and getattr(getattr(pl_module, "finetune", None), "strategy", "") == "linear_probe":
                rank_zero_info(f"Backbone features are computed at every step: {reason}.")
            return
        start = time.perf_counter()
        features = {split: self.compute(trainer, pl_module, datamodule, split) for split in FIT_SPLITS}
        datamodule.use_features(features)
        self._active = True
        count = sum(len(f) for f in features.values())
        rank_zero_info(
            f"Backbone features of {count:,} images computed once in {time.perf_counter() - start:.1f} s; "
            "the head trains on them (callbacks.feature_cache.enabled=false to run the backbone at every step)."
        )

    @staticmethod
    @torch.no_grad()
    def compute(
        trainer: L.Trainer, pl_module: L.LightningModule, datamodule: ServesFeatures, split: str
    ) -> torch.Tensor:
        """Pooled features (N, C) of every image of `split`, in order, as float32 on the CPU."""
        was_training = pl_module.training
        pl_module.eval()  # frozen means inference mode: BatchNorm running statistics, no dropout
        chunks = []
        try:
            with trainer.precision_plugin.forward_context():
                for batch in datamodule.loader(split, whole=True):
                    batch = move_data_to_device(batch, pl_module.device)
                    images, _, _ = datamodule.on_after_batch_transfer(batch, 0)
                    chunks.append(pl_module.pooled_features(images).float().cpu())
        finally:
            pl_module.train(was_training)
        return torch.cat(chunks)

    def _release(self, trainer: L.Trainer) -> None:
        if self._active:
            trainer.datamodule.use_features({})  # validate/test after fitting run on images again
            self._active = False

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._release(trainer)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._release(trainer)
