"""How long `compile=true` made the first training step, against the steps after it."""

from __future__ import annotations

import statistics
import time
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info


class CompileTimeReport(Callback):
    """Prints how long the first training step took (tracing and compiling happen there) against the median
    of the `steps_after` next ones."""

    def __init__(self, steps_after: int = 5) -> None:
        self.steps_after = steps_after
        self._start = 0.0
        self._durations: list[float] = []

    @staticmethod
    def _now(pl_module: L.LightningModule) -> float:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        return time.perf_counter()

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if len(self._durations) <= self.steps_after:
            self._start = self._now(pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if len(self._durations) > self.steps_after:
            return
        self._durations.append(self._now(pl_module) - self._start)
        if len(self._durations) == self.steps_after + 1:
            first, later = self._durations[0], statistics.median(self._durations[1:])
            rank_zero_info(
                f"torch.compile: the first training step took {first:.1f} s, the next ones {later * 1000:.0f} ms "
                f"each: about {first - later:.1f} s of compiling (more when the freeze schedule releases stages)."
            )
