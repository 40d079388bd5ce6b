"""Data: one pipeline, a folder per stage in the order an image meets them (see `datamodule.py`):
sources -> inspect -> store -> worker -> device, wired for Lightning by `ImageDataModule`."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inception_tl.data.datamodule import ImageDataModule
    from inception_tl.data.inspect import DataReport

# Imported when first used (PEP 562): the light modules of the package (`options`, `worker.augment`) then load
# without torch, as the config schemas need them for `train.py --help`.
LAZY = {"ImageDataModule": "inception_tl.data.datamodule", "DataReport": "inception_tl.data.inspect"}

__all__ = ["DataReport", "ImageDataModule"]


def __getattr__(name: str) -> Any:
    if name in LAZY:
        return getattr(importlib.import_module(LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
