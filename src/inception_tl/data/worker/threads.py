"""Loader workers as threads in the training process, for images read from the decoded-image cache.

torch's worker processes hand each batch over through shared memory: the worker writes it there, the training
process maps it back and, on a GPU machine, copies it into pinned memory. For cached images, whose per-image
work is slicing a memory-mapped file and drawing a warp (NumPy releases the interpreter's lock while it copies),
that hop costs more than the work: measured on 2 CPU cores (benchmarks/loader_hops.py, 300 px images, batches
of 128) one thread builds 2,300 to 3,500 images a second into batches and one process 860 to 1,370; with four
they are level. Here each thread reads whole batches (items, collation and pinning), a few batches ahead,
handed out in the sampler's order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

# Batches read ahead per thread: enough to keep every thread busy while the model takes the oldest.
AHEAD_PER_THREAD = 2


class ThreadLoader(DataLoader):
    """A DataLoader whose `threads` read and collate whole batches in this process (`num_workers` says how many
    threads, for Lightning's checks); everything else, the sampler, `len()` and the order included, is torch's.

    Example::

        loader = ThreadLoader(dataset, threads=ThreadPoolExecutor(8), workers=8, batch_size=128, sampler=sampler)
    """

    def __init__(self, dataset: Dataset, *, threads: Executor, workers: int, **options: Any) -> None:
        super().__init__(dataset, num_workers=0, **options)
        self.threads = threads
        self.num_workers = workers

    def read_batch(self, keys: Sequence[Any]) -> Any:
        """One batch, read on a thread: its items, collated, pinned for a non-blocking copy to the GPU."""
        batch = self.collate_fn([self.dataset[key] for key in keys])
        if self.pin_memory:
            batch = {
                key: value.pin_memory() if isinstance(value, torch.Tensor) else value for key, value in batch.items()
            }
        return batch

    def _get_iterator(self) -> Iterator[Any]:
        return ThreadedBatches(self)


class ThreadedBatches(Iterator[Any]):
    """One pass over a `ThreadLoader`: batches submitted to its threads ahead of time, returned in order."""

    def __init__(self, loader: ThreadLoader) -> None:
        self.loader = loader
        self.keys = iter(loader.batch_sampler)
        self.pending: deque[Future] = deque()
        for _ in range(AHEAD_PER_THREAD * max(loader.num_workers, 1)):
            self._submit()

    def _submit(self) -> None:
        keys = next(self.keys, None)
        if keys is not None:
            self.pending.append(self.loader.threads.submit(self.loader.read_batch, keys))

    def __len__(self) -> int:
        return len(self.loader)

    def __next__(self) -> Any:
        if not self.pending:
            raise StopIteration
        batch = self.pending.popleft().result()
        self._submit()
        return batch
