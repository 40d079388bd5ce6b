"""Image files as an exported graph takes them: float32 (N, 3, H, W) in [0, 1], resized and cropped by the model's
own preprocessing (the data path predict.py takes, with the normalisation undone: it is inside the graph)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from inception_tl.data.device import BatchTransform
from inception_tl.data.store import StorageSpec
from inception_tl.data.worker import FilesToPredict, collate_files


def unit_images(
    paths: Sequence[Path | str], preprocessing: Mapping[str, Any], batch_size: int, num_workers: int = 0
) -> Iterator[np.ndarray]:
    """Batches of the readable files among `paths`, in order."""
    spec = StorageSpec.for_preprocessing(preprocessing)
    transform = BatchTransform.for_preprocessing(preprocessing)
    mean = torch.tensor(preprocessing["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(preprocessing["std"]).view(1, 3, 1, 1)
    files = FilesToPredict([Path(path) for path in paths], spec, transform.size)
    for batch in DataLoader(files, batch_size=batch_size, num_workers=num_workers, collate_fn=collate_files):
        batch.pop("failures")
        if batch:
            yield (transform(batch) * std + mean).contiguous().numpy()
