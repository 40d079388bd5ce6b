"""Which samples each DDP rank and each loader worker reads in an epoch: pure functions of (seed, epoch, rank,
world size, workers), so that every sample is read once per epoch across the ranks, each batch holds the same
images whatever the number of workers, and a resumed epoch goes on at the next unseen batch.

Why not WebDataset's `split_by_node` / `split_by_worker`: they give each rank whole shards, so ranks get unequal
sample counts whenever shards differ in size or do not divide among the ranks, and DDP stops (a rank waits for a
gradient the other never sends); WebDataset's answer (`resampled=True` with `with_epoch`) draws shards with
replacement, which repeats some samples and leaves out others within an epoch. Here the epoch's order is the
shards (shuffled by seed and epoch) laid end to end; each rank reads one contiguous stretch of it, the same length
on every rank in training; each worker reads contiguous batches of its rank's stretch.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inception_tl.data.worker.sampling import mix_seed


def shard_order(counts: Sequence[int], seed: int, epoch: int) -> list[int]:
    """The training shards in the epoch's order: shuffled by (seed, epoch)."""
    return np.random.default_rng(mix_seed(seed, epoch)).permutation(len(counts)).tolist()


@dataclass(frozen=True)
class RankStretch:
    """A rank's part of the epoch: `count` samples from position `first` of the epoch's order, in `batches`."""

    first: int
    count: int
    batches: int


def rank_stretch(total: int, rank: int, world: int, batch_size: int) -> RankStretch:
    """N // world samples per rank (the same number of batches on every rank, which DDP needs), whole batches only
    when there is more than one (a batch of one image breaks BatchNorm); the few samples left over fall elsewhere in
    the next epoch's order."""
    per_rank = total // world
    batches = per_rank // batch_size if per_rank > batch_size else int(per_rank > 0)
    return RankStretch(rank * per_rank, min(per_rank, batches * batch_size), batches)


def loader_order(batches: int, workers: int) -> list[int]:
    """The order a DataLoader hands the batches over when worker w reads the w-th contiguous block (block sizes
    differing by at most one, the larger first): one batch from each worker in turn."""
    workers = max(workers, 1)
    sizes = [batches // workers + (w < batches % workers) for w in range(workers)]
    starts = np.cumsum([0, *sizes]).tolist()
    return [starts[w] + k for k in range(max(sizes, default=0)) for w in range(workers) if k < sizes[w]]


def worker_batches(batches: int, workers: int, done: int = 0, workers_before: int | None = None) -> list[list[int]]:
    """The batches each worker reads, in its order, so that the DataLoader (which takes one batch from each worker
    in turn, skipping a worker once it has none left) hands over exactly `loader_order` without its first `done`
    batches. `workers_before`: the worker count of the run that did those (a resumed run may use another count;
    its batches are then each read once still, in this run's order)."""
    workers = max(workers, 1)
    finished = set(loader_order(batches, workers_before or workers)[:done])
    remaining = [batch for batch in loader_order(batches, workers) if batch not in finished]
    return [remaining[w::workers] for w in range(workers)]


@dataclass(frozen=True)
class EpochLayout:
    """The split's shards laid end to end in the epoch's order: which shard holds position p, and where."""

    order: list[int]  # shard indices in the epoch's order
    starts: list[int]  # position of each ordered shard's first sample

    @classmethod
    def of(cls, counts: Sequence[int], order: list[int]) -> EpochLayout:
        return cls(order, np.cumsum([0, *(counts[shard] for shard in order)]).tolist())

    def locate(self, position: int) -> tuple[int, int]:
        """(shard index, offset in that shard) of the epoch position."""
        slot = bisect.bisect_right(self.starts, position) - 1
        return self.order[slot], position - self.starts[slot]


def window_permutation(size: int, seed: int, epoch: int, rank: int, window: int) -> np.ndarray:
    """The shuffled order of a window's samples (a few batches' worth, read together): without it, consecutive
    samples of a shard would meet in the same batch in every epoch."""
    return np.random.default_rng(mix_seed(seed, epoch, rank, window)).permutation(size)
