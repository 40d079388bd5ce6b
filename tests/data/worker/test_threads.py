"""Worker threads hand over exactly the batches worker processes do, in the sampler's order, and are what
`worker_mode=auto` chooses for cached images only."""

import pytest
import torch

from inception_tl.data.options import WorkerMode
from inception_tl.data.store import CachedImages, UncachedImages
from inception_tl.data.worker import ThreadLoader
from tests.helpers import make_datamodule, write_image_tree


def epoch_batches(loader, epoch: int) -> list[dict[str, torch.Tensor]]:
    loader.sampler.set_epoch(epoch)
    return list(loader)


@pytest.fixture(scope="module")
def tree(shared_tmp):
    return write_image_tree(shared_tmp("threads"), {"train": {"a": 11, "b": 9}})


def test_threads_give_the_batches_processes_give_in_the_same_order(tree):
    threads = make_datamodule(tree, num_workers=2, worker_mode="threads", val_split=0.2)
    processes = make_datamodule(tree, num_workers=2, worker_mode="processes", val_split=0.2)
    threaded, forked = threads.loader("train"), processes.loader("train")
    assert isinstance(threaded, ThreadLoader)
    assert threaded.num_workers == 2
    assert not isinstance(forked, ThreadLoader)
    assert len(threaded) == len(forked) == 4
    for epoch in (0, 1):  # another epoch: another order and other warps, the same on both sides
        ours, theirs = epoch_batches(threaded, epoch), epoch_batches(forked, epoch)
        assert len(ours) == 4
        for mine, other in zip(ours, theirs, strict=True):
            assert mine.keys() == other.keys()
            assert all(torch.equal(mine[key], other[key]) for key in mine if key != "resampling")
            assert mine.get("resampling") == other.get("resampling")
    val = [list(loader) for loader in (threads.loader("val"), processes.loader("val"))]
    assert [batch["indices"].tolist() for batch in val[0]] == [[0, 1, 2, 3]]
    assert all(torch.equal(val[0][0][key], val[1][0][key]) for key in val[0][0] if key != "resampling")


def test_auto_takes_threads_for_cached_images_and_processes_for_decoding(tree):
    # cache=always: `auto` also weighs the disk's free space, which differs between machines.
    cached = make_datamodule(tree, num_workers=2, val_split=0.2, cache="always")
    decoding = make_datamodule(tree, num_workers=2, val_split=0.2, cache="none")
    assert cached.worker_mode is WorkerMode.auto
    assert isinstance(cached._store, CachedImages)
    assert cached.uses_threads
    assert isinstance(decoding._store, UncachedImages)
    assert not decoding.uses_threads
    assert isinstance(cached.loader("train"), ThreadLoader)
    assert decoding.loader("train").num_workers == 2
