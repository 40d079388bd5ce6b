"""The training split streamed from its shards: each loader worker reads its batches (`plan.py`) sample by sample
from the shards, decodes the images (at the storage size, as the cache holds them) and works out each one's training
warp, exactly as for a folder; the device then finishes the batch (`data/device`).

A bad sample (its image does not decode, its label is missing or not a class) is left out of its batch and named in
the batch's `skipped` list under `data.on_bad_image=skip`, or stops the run, named, under `error`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from inception_tl.data.store import StorageSpec
from inception_tl.data.stream.plan import (
    EpochLayout,
    rank_stretch,
    shard_order,
    window_permutation,
    worker_batches,
)
from inception_tl.data.stream.reader import BadSampleError, RawSample, shard_samples
from inception_tl.data.worker.augment import Augment
from inception_tl.data.worker.collate import collate_images
from inception_tl.data.worker.items import image_item
from inception_tl.data.worker.sampling import mix_seed
from inception_tl.errors import DataError


class ShardCursor:
    """Reads samples by (shard, offset), keeping a shard's stream open while the reads move forward in it."""

    def __init__(self, urls: Sequence[str], retry_seconds: float) -> None:
        self.urls, self.retry_seconds = urls, retry_seconds
        self.shard: int | None = None
        self.offset = 0
        self.samples: Iterator[RawSample] = iter(())

    def read(self, shard: int, offset: int) -> RawSample:
        if shard != self.shard or offset < self.offset:
            close = getattr(self.samples, "close", None)
            if close is not None:
                close()  # the open shard's stream
            self.shard, self.offset, self.samples = shard, 0, shard_samples(self.urls[shard], self.retry_seconds)
        try:
            while self.offset < offset:
                next(self.samples)
                self.offset += 1
            sample = next(self.samples)
        except StopIteration:
            raise DataError(
                f"Shard {self.urls[shard]} ends after {self.offset} samples, but its index counts more: was it "
                "rewritten after shards.json? Write the shards and the index again with shards.py."
            ) from None
        self.offset += 1
        return sample


@dataclass(frozen=True)
class StreamSpec:
    """What every batch of the split is made with (the same on every rank and worker)."""

    classes: int
    multi_label: bool
    storage: StorageSpec
    size: int  # the model's input side
    resize: int  # the evaluation resize side
    augment: Augment | None  # the training warps, or None (data.augment.enabled=false): the evaluation crop
    batch_size: int
    seed: int
    window_batches: int  # the batches read and shuffled together
    skip_bad: bool
    retry_seconds: float


class ShardStream(IterableDataset):
    """One rank's training batches, each a dict as `collate_images` makes it plus `skipped`: (name, reason) of the
    bad samples left out of it. `counts`: each shard's samples, as the index lists them. A batch's `indices` are its
    samples' positions in the shards as listed (the same sample, the same index, in every epoch)."""

    def __init__(self, urls: Sequence[str], counts: Sequence[int], spec: StreamSpec, rank: int, world: int) -> None:
        self.urls, self.counts, self.spec = list(urls), list(counts), spec
        self.rank, self.world = rank, world
        self.first_sample = np.cumsum([0, *self.counts])[:-1].tolist()  # of each shard, in the shards as listed
        self.stretch = rank_stretch(sum(self.counts), rank, world, spec.batch_size)
        self.epoch = 0
        self.resume: tuple[int, int] | None = None  # (batches done, workers then) of the epoch under way

    def __len__(self) -> int:
        return self.stretch.batches

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        done, before = self.resume or (0, workers)
        batches = worker_batches(self.stretch.batches, workers, done, before)[worker]
        layout = EpochLayout.of(self.counts, shard_order(self.counts, self.spec.seed, self.epoch))
        cursor = ShardCursor(self.urls, self.spec.retry_seconds)
        window: tuple[int, list[RawSample], np.ndarray] | None = None
        for batch in batches:
            number = batch // self.spec.window_batches
            if window is None or window[0] != number:
                window = self.read_window(cursor, layout, number)
            _, raw, order = window
            window_first = self.stretch.first + number * self.spec.window_batches * self.spec.batch_size
            offset = (batch - number * self.spec.window_batches) * self.spec.batch_size
            chosen = order[offset : offset + self.spec.batch_size].tolist()
            yield self.collate([raw[i] for i in chosen], [self.canonical(layout, window_first + i) for i in chosen])

    def read_window(
        self, cursor: ShardCursor, layout: EpochLayout, number: int
    ) -> tuple[int, list[RawSample], np.ndarray]:
        """A training window's samples in the epoch's order, and the shuffled order its batches take them in."""
        span = self.spec.window_batches * self.spec.batch_size
        start, end = number * span, min((number + 1) * span, self.stretch.count)
        raw = [cursor.read(*layout.locate(self.stretch.first + p)) for p in range(start, end)]
        order = window_permutation(end - start, self.spec.seed, self.epoch, self.rank, number)
        return number, raw, order

    def canonical(self, layout: EpochLayout, position: int) -> int:
        """The sample's index in the split (its position in the shards as listed), whatever the epoch's order."""
        shard, offset = layout.locate(position)
        return self.first_sample[shard] + offset

    def collate(self, samples: Sequence[RawSample], indices: Sequence[int]) -> dict[str, Any]:
        spec, items, skipped = self.spec, [], []
        for sample, index in zip(samples, indices, strict=True):
            try:
                label = sample.label(spec.classes, spec.multi_label)
                pixels = sample.decode(spec.storage)
            except BadSampleError as bad:
                if not spec.skip_bad:
                    raise DataError(
                        f"Bad sample {sample.name}: {bad}. data.on_bad_image=skip trains without it (the run lists "
                        "each sample it skipped)."
                    ) from None
                skipped.append((sample.name, str(bad)))
                continue
            seed = mix_seed(spec.seed, self.epoch, index)
            target = multi_hot(label, spec.classes) if spec.multi_label else label
            items.append(image_item(pixels, target, index, spec.size, spec.resize, spec.augment, seed))
        if not items:
            raise DataError(f"Every sample of a batch was bad, from {samples[0].name} on: {skipped[0][1]}.")
        return {**collate_images(items), "skipped": skipped}


def multi_hot(labels: Sequence[int], classes: int) -> list[int]:
    row = [0] * classes
    for index in labels:
        row[index] = 1
    return row


class StreamLoader(DataLoader):
    """A DataLoader of a `ShardStream`, batched by the stream itself. Before each pass it gives the stream the
    epoch (Lightning sets the epoch on a sampler only, and an IterableDataset has none) and, once, the position a
    resumed run continues from. Its workers start afresh each epoch, so that they read the new epoch's plan."""

    def __init__(self, dataset: ShardStream, epoch: Callable[[], int], workers: int) -> None:
        super().__init__(
            dataset,
            batch_size=None,
            num_workers=workers,
            pin_memory=torch.cuda.is_available(),
            prefetch_factor=4 if workers > 0 else None,
        )
        self.current_epoch = epoch
        self.resume_at: tuple[int, int, int] | None = None  # (epoch, batches done, workers then)

    def __iter__(self) -> Iterator[Any]:
        stream: ShardStream = self.dataset  # type: ignore[assignment]
        if self.resume_at is not None:
            stream.epoch, stream.resume = self.resume_at[0], self.resume_at[1:]
        else:
            stream.epoch, stream.resume = self.current_epoch(), None
        iterator = super().__iter__()  # the workers take their copy of the stream now
        self.resume_at, stream.resume = None, None
        return iterator
