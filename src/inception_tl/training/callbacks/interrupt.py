"""Ctrl-C or SIGTERM during training leaves a resumable `last.ckpt` (`ckpt_path=last` resumes it).

Lightning turns SIGTERM into a `SIGTERMException` after the current batch and Ctrl-C into a graceful
shutdown, calling every callback's `on_exception` first. Its own `ModelCheckpoint(save_on_exception=True)`
would also overwrite `best.ckpt` with the interrupted state, so this callback writes `last.ckpt` alone
(through `AtomicCheckpointIO`, like every checkpoint: a process killed while writing leaves no torn file).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.exceptions import SIGTERMException


class SaveOnInterrupt(Callback):
    """On Ctrl-C or SIGTERM, save the full training state as `dirpath/last.ckpt`."""

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, KeyboardInterrupt | SIGTERMException) or trainer.sanity_checking:
            return
        final = self.dirpath / "last.ckpt"
        trainer.save_checkpoint(final)
        rank_zero_info(
            f"Interrupted at epoch {trainer.current_epoch}, step {trainer.global_step}: saved {final}. "
            "Resume with the same command plus ckpt_path=last."
        )
