"""Every image's class probabilities, kept from the same validation or test pass that computes the metrics.

The report needs each image's prediction with its path. A second pass after `trainer.test` would run on
whatever device Lightning leaves the model on (its strategy teardown moves it to the CPU), in fp32,
reading every image again; this callback keeps what the evaluation pass on the training device
already computed, gathered from every DDP process.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import TrainerFn
from torchmetrics.utilities.distributed import gather_all_tensors


class PredictionCollector(Callback):
    """Collects the probabilities `validation_step` / `test_step` return, outside fitting, per split.

    Example::

        collector = PredictionCollector()
        trainer = L.Trainer(callbacks=[collector])
        trainer.test(model, datamodule=datamodule)
        probabilities, labels = collector.collected("test", len(paths))
    """

    def __init__(self) -> None:
        self._batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._collected: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @staticmethod
    def _active(trainer: L.Trainer) -> bool:
        # During fit the validation passes only select the best epoch; the report comes from a later pass.
        return trainer.state.fn != TrainerFn.FITTING and not trainer.sanity_checking

    def _keep(self, trainer: L.Trainer, outputs: Any, batch: Any) -> None:
        if self._active(trainer) and outputs is not None:
            _, labels, indices = batch
            self._batches.append((outputs.detach().float(), labels.detach(), indices.detach()))

    def _finish(self, trainer: L.Trainer, split: str) -> None:
        if not self._active(trainer):
            return
        batches, self._batches = self._batches, []
        if not batches:  # a DDP process whose share was empty still takes part in the gathering
            device = trainer.strategy.root_device
            empty = torch.empty(0, dtype=torch.long, device=device)
            batches = [(torch.empty(0, 0, device=device), empty, empty)]
        probabilities, labels, indices = (torch.cat(parts) for parts in zip(*batches, strict=True))
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # Each DDP process scored its own share of the split (without repeats): put the shares together.
            parts = [gather_all_tensors(tensor) for tensor in (probabilities, labels, indices)]
            probabilities, labels, indices = (torch.cat([t for t in part if t.numel()]) for part in parts)
        probabilities, labels, indices = probabilities.cpu(), labels.cpu(), indices.cpu()
        order = indices.argsort()
        self._collected[split] = (probabilities[order].numpy(), labels[order].numpy(), indices[order].numpy())

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._keep(trainer, outputs, batch)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._keep(trainer, outputs, batch)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._finish(trainer, "val")

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._finish(trainer, "test")

    def collected(self, split: str, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, labels) of the last pass over `split`, in the split's order, checked to hold each of its
        `count` images once."""
        probabilities, labels, indices = self.scored(split)
        if indices.tolist() != list(range(count)):
            raise RuntimeError(f"The {split} pass scored {len(indices)} images, not each of the split's {count}.")
        return probabilities, labels

    def scored(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probabilities, labels, indices into the split) of the images the last pass over `split` scored, in
        the split's order: all of them, unless the Trainer limits its passes (`debug=fast_dev_run`, ...)."""
        if split not in self._collected:
            raise RuntimeError(f"No {split} pass has run with this collector among the Trainer's callbacks.")
        return self._collected[split]
