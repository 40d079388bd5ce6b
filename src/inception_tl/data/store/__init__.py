"""Stage 3 of the data path: how pixels are stored. Each image is decoded once (`decode.py`: upright RGB at the
storage size, the shorter side brought down to timm's eval resize size, never up) into a memory-mapped file
(`cache.py`) that the loader workers and DDP processes share, or decoded again at every access."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from inception_tl.data.store.cache import CachedImages, StorageSpec, UncachedImages, open_store

__all__ = ["CachedImages", "ImageStore", "StorageSpec", "UncachedImages", "open_store"]


class ImageStore(Protocol):
    """Images at their storage size, by position: decoded from files, or read from the decoded-image cache."""

    def read(self, position: int) -> np.ndarray: ...
