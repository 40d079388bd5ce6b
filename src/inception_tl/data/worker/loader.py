"""A split's loader: torch's DataLoader with worker processes, the project's ThreadLoader with worker threads,
or the training process alone."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from inception_tl.data.worker.threads import ThreadLoader


def make_loader(
    dataset: Dataset,
    sampler: Sampler | None,
    batch_size: int,
    training: bool,
    workers: int,
    collate: Callable[[Any], Any],
    threads: Executor | None = None,
) -> DataLoader:
    """Batches of `dataset` in `sampler`'s order (in order without one): read on `threads` when given (their
    count is `workers`), else in `workers` processes (0: in this process). Pinned when a GPU will take them."""
    options = {
        "batch_size": batch_size,
        "sampler": sampler,
        # A last training batch of one image breaks BatchNorm; it is reshuffled in next epoch anyway.
        "drop_last": training and len(dataset) > batch_size,
        "pin_memory": torch.cuda.is_available(),
        "collate_fn": collate,
    }
    if threads is not None:
        return ThreadLoader(dataset, threads=threads, workers=workers, **options)
    return DataLoader(dataset, num_workers=workers, persistent_workers=workers > 0, **options)
