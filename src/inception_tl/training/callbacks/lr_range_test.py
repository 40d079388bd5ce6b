"""The learning-rate range test (Smith, 2017; fastai's `lr_find`): the head's rate grows exponentially from
`start` to `stop` over `steps` training steps, every other parameter group keeping its ratio to it, and the
loss of each step is recorded.

Lightning's `LearningRateFinder` sets every parameter group to one rate (its scheduler starts each group at
`min_lr` and ends each at `max_lr`), which erases the discriminative rates of a partly released backbone:
the rate it suggests is for a model this project never trains. Here the groups keep their configured ratios.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback


class LearningRateRangeTest(Callback):
    """Sets the rates before each training step, records (head rate, every group's rate, loss) after it, and
    stops early once the loss has clearly diverged (above `diverge` times its best).

    Example::

        test = LearningRateRangeTest(start=1e-6, stop=1.0, steps=100)
        L.Trainer(callbacks=[test], max_steps=100).fit(model, datamodule)
        test.rates, test.losses
    """

    def __init__(self, start: float, stop: float, steps: int, diverge: float = 4.0) -> None:
        if not 0 < start < stop or steps < 2:
            raise ValueError(
                f"The range test needs 0 < start < stop and at least 2 steps (got {start}, {stop}, {steps})."
            )
        self.start, self.stop, self.steps, self.diverge = start, stop, steps, diverge
        self.rates: list[float] = []  # the head's rate at each step
        self.group_rates: list[list[float]] = []  # every group's rate at each step
        self.losses: list[float] = []
        self._ratios: list[float] = []

    def rate_at(self, step: int) -> float:
        return self.start * (self.stop / self.start) ** (step / (self.steps - 1))

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        groups = trainer.optimizers[0].param_groups
        head = groups[-1]["lr"]  # discriminative_param_groups puts the head last, at the configured rate
        self._ratios = [group["lr"] / head for group in groups]

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        rate = self.rate_at(len(self.rates))
        groups = trainer.optimizers[0].param_groups
        for group, ratio in zip(groups, self._ratios, strict=True):
            group["lr"] = ratio * rate
        self.rates.append(rate)
        self.group_rates.append([group["lr"] for group in groups])

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        loss = float(outputs["loss"])  # a diagnostic run: reading every step's loss is the point
        self.losses.append(loss)
        finite = [value for value in self.losses if math.isfinite(value)]
        if len(self.rates) >= self.steps or not math.isfinite(loss) or loss > self.diverge * min(finite):
            trainer.should_stop = True
