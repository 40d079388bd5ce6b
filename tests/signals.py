"""A callback the interruption test adds through the CLI: the training process sends itself SIGTERM."""

from __future__ import annotations

import os
import signal

from lightning.pytorch.callbacks import Callback


class SigtermAt(Callback):
    """Sends SIGTERM to this process after training batch `batch` of epoch `epoch` (mid-epoch)."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            os.kill(os.getpid(), signal.SIGTERM)
