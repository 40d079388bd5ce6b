"""The training order and every augmentation as pure functions of (seed, epoch, index): resumable exactly.

torch's `RandomSampler` and the DataLoader workers draw from generators whose state a checkpoint does
not hold, so a run resumed from a checkpoint would see other batches and other crops than the run it
continues. Here the order is `DistributedSampler`'s (seeded by seed + epoch; Lightning calls
`set_epoch` every epoch and leaves a `DistributedSampler` in place under DDP), and each item it yields
carries its own augmentation seed, so neither the number of workers nor a restart changes the data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import torch.distributed as dist
from torch.utils.data import DistributedSampler

from inception_tl.seeding import mix_seed


class ResumableShuffleSampler(DistributedSampler):
    """Shuffles by (seed, epoch), shards across DDP ranks when running distributed, yields (index, seed).

    `LabelledImages` applies the transform under that seed, so sample i in epoch e is augmented the same
    way in an uninterrupted run, a resumed run, with 0 or 8 workers.
    """

    def __init__(self, dataset: Sized, seed: int) -> None:
        distributed = dist.is_available() and dist.is_initialized()
        super().__init__(
            dataset,
            num_replicas=dist.get_world_size() if distributed else 1,
            rank=dist.get_rank() if distributed else 0,
            shuffle=True,
            seed=seed,
        )

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        for index in super().__iter__():
            yield index, mix_seed(self.seed, self.epoch, index)
