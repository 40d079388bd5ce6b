"""The training data of an epoch depends on (seed, epoch) only: not on restarts, workers or earlier draws."""

import torch

from inception_tl.data.worker.sampling import ResumableShuffleSampler
from tests.helpers import make_datamodule


def epoch_batches(datamodule, epoch: int) -> list[tuple[torch.Tensor, ...]]:
    """The epoch's batches as the model receives them (uint8 pixels warped and normalised)."""
    loader = datamodule.train_dataloader()
    loader.sampler.set_epoch(epoch)  # as Lightning does at the start of every epoch
    return [datamodule.on_after_batch_transfer(batch, 0) for batch in loader]


def assert_same_batches(first, second) -> None:
    assert len(first) == len(second)
    for batch_a, batch_b in zip(first, second, strict=True):
        for tensor_a, tensor_b in zip(batch_a, batch_b, strict=True):
            assert torch.equal(tensor_a, tensor_b)


def test_an_epoch_is_the_same_batches_and_augmentations_whatever_was_drawn_before(image_tree):
    datamodule = make_datamodule(image_tree({"train": {"a": 10, "b": 10}}), val_split=0.2)
    torch.manual_seed(1)
    first = epoch_batches(datamodule, epoch=3)
    torch.manual_seed(2)  # a resumed process starts from another generator state
    torch.rand(1000)
    assert_same_batches(first, epoch_batches(datamodule, epoch=3))


def test_epochs_differ_in_order_and_in_augmentation(image_tree):
    datamodule = make_datamodule(image_tree({"train": {"a": 10, "b": 10}}), val_split=0.2)
    sampler = datamodule.train_dataloader().sampler
    sampler.set_epoch(0)
    epoch0 = list(sampler)
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert sorted(index for index, _ in epoch0) == sorted(index for index, _ in epoch1) == list(range(16))
    assert [index for index, _ in epoch0] != [index for index, _ in epoch1]
    dataset = datamodule.dataset("train")
    seeds = {0: dict(epoch0), 1: dict(epoch1)}
    warp_epoch0, warp_epoch1 = (dataset[(5, seeds[epoch][5])]["warp"] for epoch in (0, 1))
    assert not (warp_epoch0 == warp_epoch1).all()  # the same image, cropped differently
    assert (dataset[(5, seeds[0][5])]["warp"] == warp_epoch0).all()


def test_worker_processes_do_not_change_the_data(image_tree):
    root = image_tree({"train": {"a": 8, "b": 8}})
    in_process = epoch_batches(make_datamodule(root, val_split=0.25, num_workers=0), epoch=2)
    with_workers = epoch_batches(make_datamodule(root, val_split=0.25, num_workers=2), epoch=2)
    assert_same_batches(in_process, with_workers)


def test_the_seed_changes_the_order():
    dataset = list(range(50))
    orders = [[index for index, _ in ResumableShuffleSampler(dataset, seed=seed)] for seed in (0, 1)]
    assert orders[0] != orders[1]
    assert sorted(orders[0]) == dataset


def test_balance_weighted_draws_every_class_equally_often(image_tree):
    datamodule = make_datamodule(image_tree({"train": {"a": 30, "b": 6}}), val_split=0.5, balance="weighted")
    labels = [label for _, label in datamodule.samples["train"]]
    assert labels.count(0) == 5 * labels.count(1)  # 15 against 3
    sampler = datamodule.train_dataloader().sampler
    drawn = []
    for epoch in range(50):
        sampler.set_epoch(epoch)
        drawn.extend(labels[index] for index, _ in sampler)
    assert len(drawn) == 50 * len(labels)  # an epoch is still as long as the split
    share_b = drawn.count(1) / len(drawn)
    assert 0.45 < share_b < 0.55  # against 3 / 18 = 0.17 unweighted


def test_weighted_draws_depend_on_seed_and_epoch_only_and_shard_without_overlap():
    weights = [1.0] * 40 + [9.0] * 10
    whole = ResumableShuffleSampler(list(range(50)), seed=3, weights=weights)
    whole.set_epoch(4)
    draws = list(whole)
    assert draws == list(whole)
    # A repeated image gets a new augmentation seed at each draw.
    most_drawn = max(range(50), key=[index for index, _ in draws].count)
    repeated = [seed for index, seed in draws if index == most_drawn]
    assert len(repeated) > 1
    assert len(set(repeated)) == len(repeated)
    shards = []
    for rank in range(2):
        shard = ResumableShuffleSampler(list(range(50)), seed=3, weights=weights, num_replicas=2, rank=rank)
        shard.set_epoch(4)
        shards.append(list(shard))
    assert len(shards[0]) == len(shards[1]) == 25
    assert sorted(shards[0] + shards[1]) == sorted(draws)  # the ranks split one draw between them
