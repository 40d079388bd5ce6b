"""Checkpoints written beside their final name, then renamed: a killed process never leaves a torn one.

Lightning's `TorchCheckpointIO` is meant to be atomic too, but on a local disk fsspec's transaction
writes the bytes to a file in the system temp folder and then `shutil.move`s it: when that folder is
another file system (a tmpfs `/tmp`, a cluster's local scratch), the move is a copy, which a kill can
interrupt half way through, leaving a truncated `last.ckpt` that `ckpt_path=last` would then pick.
It also needs the whole checkpoint's size free in `/tmp`. A rename within the checkpoint's own
folder is atomic; remote paths (`s3://...`) keep Lightning's own handling.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.types import _PATH


class AtomicCheckpointIO(TorchCheckpointIO):
    """`torch.save` to `<name>.part` in the same folder, fsync, then `os.replace` onto `<name>`."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None) -> None:
        if "://" in str(path) or storage_options is not None:
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        final = Path(path)
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(final.name + ".part")
        try:
            with open(partial, "wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, final)
