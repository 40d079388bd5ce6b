"""Randomness in training steps as a function of (seed, epoch, batch, rank), so a resumed run repeats it.

Lightning seeds the generators once, at the start of a run, and a checkpoint does not hold their state:
a run resumed at epoch 3 draws other dropout masks than the uninterrupted run did at epoch 3.
Seeding torch before every training batch from values the checkpoint restores makes them equal.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from inception_tl.data.worker.sampling import mix_seed


class StepSeed(Callback):
    """Seeds torch's generators (CPU and every CUDA device) before each training batch."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        # The rank is part of the seed, so each DDP process draws its own dropout masks.
        torch.manual_seed(mix_seed(self.seed, trainer.current_epoch, batch_idx, trainer.global_rank))
