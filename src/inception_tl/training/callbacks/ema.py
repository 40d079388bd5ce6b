"""EMA weights: an exponential moving average of the model that validation, checkpoints and the test pass use.

Lightning's `WeightAveraging` does the bookkeeping: validation swaps the average in (so checkpoint selection
judges it), `best.ckpt` and `last.ckpt` hold it as their `state_dict` (the trained weights beside it, for
resuming), training ends with the average in the model, and a resumed run restores both exactly. Its
`EMAWeightAveraging` is not used as it is, for three reasons that matter here:

- torch's `AveragedModel.update_parameters` reads its update count back from the device at every step
  (`bool(n_averaged == 0)`), a host synchronisation per step (see training/host_syncs.py);
- the average is created when fitting is set up, before Lightning moves the model to the GPU, so it stays on
  the CPU and every update copies the weights to the host;
- a fixed decay of 0.999 over the few hundred steps of a small dataset leaves most of the initial weights
  (the random head) in the average.

Here the average follows the model to its device when training starts, is updated with one fused `lerp` per
dtype (BatchNorm's running statistics are averaged like the weights; its integer step counters follow the
model), and the decay warms up as TensorFlow's `ExponentialMovingAverage(num_updates=...)` does:
min(decay, (1 + n) / (10 + n)) after n updates. Frozen stages do not change, so their average is themselves.
"""

from __future__ import annotations

import itertools
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import WeightAveraging


class EMAWeights(WeightAveraging):
    """An exponential moving average of the weights, updated after every optimizer step.

    Example::

        trainer = L.Trainer(callbacks=[EMAWeights(decay=0.999)])
    """

    def __init__(self, *, decay: float, warmup: bool = True) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"EMA decay={decay}: choose a value between 0 and 1, such as 0.999.")
        super().__init__(use_buffers=True)
        self.decay, self.warmup = decay, warmup

    def decay_after(self, updates: int) -> float:
        """The decay of the update that follows `updates` earlier ones."""
        return min(self.decay, (1 + updates) / (10 + updates)) if self.warmup else self.decay

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._average_model is not None:
            self._average_model.to(pl_module.device)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        if trainer.global_step > self._latest_update_step:  # an optimizer step was taken (and not yet averaged)
            self.update(pl_module, self.decay_after(self._latest_update_step))
            self._latest_update_step = trainer.global_step

    @torch.no_grad()
    def update(self, pl_module: L.LightningModule, decay: float) -> None:
        """average <- decay * average + (1 - decay) * model, for every floating-point parameter and buffer."""
        assert self._average_model is not None
        average = self._average_model.module
        pairs = zip(
            itertools.chain(average.parameters(), average.buffers()),
            itertools.chain(pl_module.parameters(), pl_module.buffers()),
            strict=True,
        )
        floating: dict[torch.dtype, tuple[list[torch.Tensor], list[torch.Tensor]]] = {}
        counters: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])
        for averaged, current in pairs:
            group = floating.setdefault(averaged.dtype, ([], [])) if averaged.is_floating_point() else counters
            group[0].append(averaged)
            group[1].append(current.detach())
        for averaged, current in floating.values():
            torch._foreach_lerp_(averaged, current, 1 - decay)
        if counters[0]:
            torch._foreach_copy_(counters[0], counters[1])
        self._average_model.n_averaged += 1

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_epoch_end(trainer, pl_module)  # the trained weights back in the model
        # Under DDP each process's BatchNorm statistics hold its own last batch until the next forward pass
        # broadcasts rank 0's; validation ran on the average, so the swap back restored the local ones. Take
        # rank 0's now, as that forward pass will: the processes stay identical at every epoch's end.
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            for buffer in pl_module.buffers():
                torch.distributed.broadcast(buffer, src=0)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "decay": self.decay}
