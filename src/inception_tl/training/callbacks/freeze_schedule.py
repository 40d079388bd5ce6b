"""The callback that moves the model through its freeze schedule, and logs where it is.

Why not Lightning's `BaseFinetuning`/`BackboneFinetuning`: they flip `requires_grad` after DDP has
wrapped the model, and DDP only all-reduces the parameters that required gradients when it was built,
so the ranks drift apart after unfreezing (Lightning #20340); they let frozen BatchNorm normalise with
batch statistics; and a run resumed after the unfreeze epoch comes back frozen (#21901). Here every
parameter keeps `requires_grad=True` and is registered with DDP from the start; freezing means the
frozen stages run under `no_grad` (so DDP runs with `find_unused_parameters=True`) with BatchNorm in
inference mode, and their optimizer groups get no gradient. The phase is a pure function of the
epoch, checked before every batch, so a resumed run is in the right phase from its first step.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info

from inception_tl.errors import ConfigError
from inception_tl.finetune.schedule import Freezable


class FreezeScheduleCallback(Callback):
    """Tells a `Freezable` module how many stages its schedule freezes at each batch, and logs the phase.

    Logged per epoch: `finetune/phase` (release steps so far), `finetune/frozen_stages` and
    `finetune/trainable_params`; the learning-rate monitor logs each parameter group's rate.
    """

    def __init__(self) -> None:
        self._announced: int | None = None  # the frozen-stage count last reported
        self._trainable = 0

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if not isinstance(pl_module, Freezable):
            raise ConfigError(
                f"FreezeScheduleCallback drives modules with a freeze schedule (such as ImageClassifier); "
                f"{type(pl_module).__name__} has none. Remove callbacks.freeze_schedule for this module."
            )
        epoch = trainer.current_epoch
        schedule = pl_module.freeze_schedule
        frozen = schedule.frozen_stages(epoch)
        # Also at the top of every epoch: Lightning trains in whatever module modes it finds, so the module
        # re-applies BatchNorm's (a resumed run may not call on_train_epoch_start, Lightning #21901).
        if frozen != pl_module.frozen_stages or batch_idx == 0:
            pl_module.set_frozen_stages(frozen)
        if frozen != self._announced:
            self._announced, self._trainable = frozen, pl_module.trainable_parameters()
            rank_zero_info(f"Epoch {epoch}: {schedule.describe(frozen)} ({self._trainable:,} trainable parameters).")

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Logged once per epoch: a Python number logged in a step becomes a blocking copy to the GPU.
        schedule, epoch = pl_module.freeze_schedule, trainer.current_epoch
        for name, value in (
            ("finetune/phase", schedule.phase(epoch)),
            ("finetune/frozen_stages", schedule.frozen_stages(epoch)),
            ("finetune/trainable_params", self._trainable),
        ):
            pl_module.log(name, float(value), on_step=False, on_epoch=True, batch_size=1)
