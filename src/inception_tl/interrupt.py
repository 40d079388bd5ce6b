"""Ctrl-C or SIGTERM during training leaves a resumable `last.ckpt`; `ckpt_path=last` finds the newest one.

Lightning turns SIGTERM into a `SIGTERMException` after the current batch and Ctrl-C into a graceful
shutdown, calling every callback's `on_exception` first. Its own `ModelCheckpoint(save_on_exception=True)`
would also overwrite `best.ckpt` with the interrupted state, so this callback writes `last.ckpt` alone,
to a temporary file renamed when complete: a process killed while writing never leaves a truncated
checkpoint under the real name.
"""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.exceptions import SIGTERMException

from inception_tl.errors import ConfigError


class SaveOnInterrupt(Callback):
    """On Ctrl-C or SIGTERM, save the full training state as `dirpath/last.ckpt`."""

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, KeyboardInterrupt | SIGTERMException) or trainer.sanity_checking:
            return
        final, partial = self.dirpath / "last.ckpt", self.dirpath / "last.ckpt.part"
        trainer.save_checkpoint(partial)
        if trainer.is_global_zero:
            os.replace(partial, final)
        rank_zero_info(
            f"Interrupted at epoch {trainer.current_epoch}, step {trainer.global_step}: saved {final}. "
            "Resume with the same command plus ckpt_path=last."
        )


def resolve_checkpoint(ckpt_path: str | None, output_dir: Path) -> str | None:
    """`last`: the newest `*/checkpoints/last.ckpt` among this task's earlier runs (siblings of this run)."""
    if ckpt_path is None:
        return None
    if ckpt_path != "last":
        if not Path(ckpt_path).is_file():
            raise ConfigError(f"ckpt_path={ckpt_path!r} is not a file. Pass a checkpoint, or ckpt_path=last.")
        return ckpt_path
    runs = output_dir.parent
    candidates = [
        path for path in runs.glob("*/checkpoints/last.ckpt") if path.parents[1].resolve() != output_dir.resolve()
    ]
    if not candidates:
        raise ConfigError(
            f"ckpt_path=last: no earlier run under {runs} has checkpoints/last.ckpt. Pass the path of a checkpoint."
        )
    return str(max(candidates, key=lambda path: path.stat().st_mtime))
