import re

import numpy as np
import pytest
import torch

from inception_tl.errors import DataError
from tests.helpers import data_options, make_datamodule


def test_train_folder_is_split_stratified_and_test_folder_is_kept(image_tree):
    root = image_tree({"train": {"cat": 20, "dog": 10}, "test": {"cat": 3, "dog": 3}})
    datamodule = make_datamodule(root, val_split=0.2)
    assert datamodule.class_names == ["cat", "dog"]
    train, val, test = (datamodule.samples[s] for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (24, 6, 6)
    assert sorted(label for _, label in val) == [0, 0, 0, 0, 1, 1]
    paths = [{path for path, _ in split} for split in (train, val, test)]
    assert not (paths[0] & paths[1])
    assert not (paths[0] & paths[2])
    assert not (paths[1] & paths[2])


def test_an_existing_val_folder_is_used_instead_of_a_split(image_tree):
    root = image_tree({"train": {"a": 5, "b": 5}, "val": {"a": 2, "b": 1}})
    datamodule = make_datamodule(root)
    assert len(datamodule.samples["train"]) == 10
    assert len(datamodule.samples["val"]) == 3
    assert not datamodule.has_test


def test_classes_differing_between_splits_is_an_error_naming_both(image_tree):
    root = image_tree({"train": {"cat": 4, "dog": 4}, "test": {"cat": 2, "fox": 2}})
    with pytest.raises(DataError) as error:
        make_datamodule(root)
    message = str(error.value)
    assert str(root / "test") in message
    assert "fox" in message
    assert "dog" in message


def test_missing_train_folder_says_what_layout_is_expected(tmp_path):
    with pytest.raises(DataError, match="train/<class>"):
        make_datamodule(tmp_path / "nowhere")


def device_batch(datamodule, loader):
    """The loader's first batch as the model receives it: (inputs, labels, indices)."""
    return datamodule.on_after_batch_transfer(next(iter(loader)), 0)


def test_augmentation_applies_to_the_training_split_only(image_tree):
    root = image_tree({"train": {"a": 6, "b": 6}})
    datamodule = make_datamodule(root, val_split=0.5)
    val = datamodule.dataset("val")
    assert np.array_equal(val[0]["image"], val[0]["image"])
    assert "warp" not in val[0]
    train = datamodule.dataset("train")
    torch.manual_seed(0)
    draws = [train[0]["warp"] for _ in range(3)]
    assert not all((draws[0] == other).all() for other in draws[1:])


def test_loaders_batch_at_the_configured_image_size(image_tree):
    root = image_tree({"train": {"a": 6, "b": 6}, "test": {"a": 2, "b": 2}})
    datamodule = make_datamodule(root, image_size=96, val_split=0.5)
    images, labels, indices = device_batch(datamodule, datamodule.train_dataloader())
    assert images.shape == (4, 3, 96, 96)
    assert images.dtype == torch.float32
    assert labels.dtype == indices.dtype == torch.int64
    images, _, indices = device_batch(datamodule, datamodule.test_dataloader())
    assert images.shape[1:] == (3, 96, 96)
    assert indices.tolist() == [0, 1, 2, 3]  # evaluation batches name their images, in the split's order


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"batch_size": 1}, "data.batch_size=1"),
        ({"val_split": 0.0}, "data.val_split=0.0"),
        ({"val_split": 1.5}, "data.val_split=1.5"),
        ({"num_workers": -1}, "data.num_workers=-1"),
        ({"image_size": 64}, "data.image_size=64"),
    ],
)
def test_bad_loader_options_fail_before_any_data_is_read(tmp_path, options, complaint):
    from inception_tl.data import ImageDataModule
    from inception_tl.data.sources import ImageFolder
    from inception_tl.errors import ConfigError

    defaults = {"batch_size": 8, "num_workers": 0, "val_split": 0.2}
    with pytest.raises(ConfigError, match=re.escape(complaint)):  # not a DataError about the missing folder
        ImageDataModule(source=ImageFolder(), root=str(tmp_path / "nowhere"), **data_options(**{**defaults, **options}))
