"""Stage 4 of the data path: what a loader worker does per image (`items.py`: read the stored pixels, draw the
training warp from the image's own seed, `augment.py`, or work out its evaluation crop box) and per batch
(`collate.py`), in the order the resumable sampler gives (`sampling.py`); threads in the training process
for cached images (`threads.py`), torch's worker processes otherwise (`loader.py`)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inception_tl.data.worker.augment import Augment
    from inception_tl.data.worker.collate import collate_features, collate_files, collate_images
    from inception_tl.data.worker.items import FeatureSplit, FilesToPredict, SplitImages
    from inception_tl.data.worker.loader import make_loader
    from inception_tl.data.worker.sampling import ResumableShuffleSampler
    from inception_tl.data.worker.threads import ThreadLoader

# Imported when first used (PEP 562): `augment` (numpy only) then loads without torch, as the config schemas
# need it for `train.py --help`.
LAZY = {
    "Augment": "augment",
    "collate_features": "collate",
    "collate_files": "collate",
    "collate_images": "collate",
    "FeatureSplit": "items",
    "FilesToPredict": "items",
    "SplitImages": "items",
    "make_loader": "loader",
    "ResumableShuffleSampler": "sampling",
    "ThreadLoader": "threads",
}

__all__ = [
    "Augment",
    "FeatureSplit",
    "FilesToPredict",
    "ResumableShuffleSampler",
    "SplitImages",
    "ThreadLoader",
    "collate_features",
    "collate_files",
    "collate_images",
    "make_loader",
]


def __getattr__(name: str) -> Any:
    if name in LAZY:
        return getattr(importlib.import_module(f"{__name__}.{LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
