"""The training order and every augmentation as pure functions of (seed, epoch, index): resumable exactly.

torch's `RandomSampler` and the DataLoader workers draw from generators whose state a checkpoint does
not hold, so a run resumed from a checkpoint would see other batches and other crops than the run it
continues. Here the order is `DistributedSampler`'s (seeded by seed + epoch; Lightning calls
`set_epoch` every epoch and leaves a `DistributedSampler` in place under DDP), and each item it yields
carries its own augmentation seed, so neither the number of workers nor a restart changes the data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence, Sized

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler


def mix_seed(*values: int) -> int:
    """A well-mixed 63-bit seed from non-negative ints (numpy's SeedSequence hashing)."""
    return int(np.random.SeedSequence(list(values)).generate_state(1, np.uint64)[0] >> np.uint64(1))


class ResumableShuffleSampler(DistributedSampler):
    """Shuffles by (seed, epoch), shards across DDP ranks when running distributed, yields (index, seed).

    `SplitImages` draws its warp from that seed, so sample i in epoch e is augmented the same
    way in an uninterrupted run, a resumed run, with 0 or 8 workers.

    With `weights`, each epoch instead draws as many items as the dataset holds, with replacement, item i
    with probability proportional to `weights[i]` (torch's `WeightedRandomSampler`, which is neither
    seeded per epoch nor sharded across ranks). A repeated item gets a fresh augmentation seed per draw.
    """

    def __init__(
        self,
        dataset: Sized,
        seed: int,
        weights: Sequence[float] | None = None,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        distributed = dist.is_available() and dist.is_initialized()
        super().__init__(
            dataset,
            num_replicas=num_replicas if num_replicas is not None else dist.get_world_size() if distributed else 1,
            rank=rank if rank is not None else dist.get_rank() if distributed else 0,
            shuffle=True,
            seed=seed,
        )
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.double)
        self._skip = 0

    def resume_at(self, epoch: int, items_done: int) -> None:
        """Make the next iteration epoch `epoch`'s, without its first `items_done` items (of this rank)."""
        self.set_epoch(epoch)
        self._skip = items_done

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        skip, self._skip = self._skip, 0
        if self.weights is None:
            for index in list(super().__iter__())[skip:]:
                yield index, mix_seed(self.seed, self.epoch, index)
            return
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        drawn = torch.multinomial(self.weights, self.total_size, replacement=True, generator=generator).tolist()
        for position in list(range(self.rank, self.total_size, self.num_replicas))[skip:]:
            yield drawn[position], mix_seed(self.seed, self.epoch, position)
