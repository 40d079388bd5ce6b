"""Lightning's rich progress bar, reading the training loss only at the logging interval.

Lightning turns every `prog_bar=True` step metric into a Python number after every batch; on a GPU each
such conversion waits for the step to finish, which at small batches costs a large part of the speed.
This bar shows the loss of the latest step at the logging interval (and at the epoch's end) instead.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import RichProgressBar

from inception_tl.training.intervals import at_logging_interval


class IntervalProgressBar(RichProgressBar):
    """`RichProgressBar` showing `loss`, read every `trainer.log_every_n_steps` steps.

    Example::

        trainer = L.Trainer(callbacks=[IntervalProgressBar()], log_every_n_steps=10)
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._loss: dict[str, float] = {}

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor) and at_logging_interval(trainer, batch_idx):
            self._loss = {"loss": float(loss)}
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        metrics = {**super().get_metrics(trainer, pl_module), **self._loss}
        metrics.pop("v_num", None)  # the logger's version number: the run folder names the run
        return metrics
