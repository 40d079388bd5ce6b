"""A progress bar over a run's steps, for runs bounded by `max_steps` rather than epochs (the learning-rate range
test): Lightning's bars count epochs, and with `max_epochs` unset they show "Epoch 8/-2"."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import Callback
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class StepsBar(Callback):
    """One bar from step 0 to `trainer.max_steps` (fewer when the run stops early, as the range test does).

    Example::

        trainer = L.Trainer(max_steps=100, enable_progress_bar=False, callbacks=[StepsBar("Range test")])
    """

    def __init__(self, description: str) -> None:
        self.description = description
        self.progress: Progress | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.progress = Progress(
            TextColumn(self.description), BarColumn(), MofNCompleteColumn(), TextColumn("steps"), TimeElapsedColumn()
        )
        self.task = self.progress.add_task(self.description, total=trainer.max_steps)
        self.progress.start()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=trainer.global_step)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.teardown(trainer, pl_module, "fit")

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
