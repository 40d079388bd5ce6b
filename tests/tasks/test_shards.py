"""shards.py as a user runs it: a folder's final splits written as shards (training images reduced when asked),
the command to train on them printed, and each mistake refused in one line before anything is written."""

import json

import pytest
from PIL import Image

from inception_tl.data.stream.index import ShardIndex
from inception_tl.errors import ConfigError
from inception_tl.tasks.shards import write_data_as_shards
from tests.helpers import compose_config, write_image_tree


def shards_config(tmp_path, *overrides):
    common = ["data=imagefolder", f"data.root={tmp_path / 'photos'}", f"paths.data_dir={tmp_path / 'data'}"]
    return compose_config([*common, *overrides], tmp_path / "run", config_name="shards")


def test_a_folder_becomes_shards_with_its_splits_and_the_command_to_train_on_them(tmp_path, capsys):
    write_image_tree(tmp_path / "photos", {"train": {"cat": 10, "dog": 10}, "test": {"cat": 2, "dog": 2}}, size=120)
    out = tmp_path / "shards"
    write_data_as_shards(shards_config(tmp_path, f"out={out}", "shard_size=6", "train_shorter_side=100"))
    index = ShardIndex.read(str(out))
    # val_split 0.2 of the 20 training images: 16 train in shards of 6, 4 val, the 4 test images.
    assert (index.total("train"), index.total("val"), index.total("test")) == (16, 4, 4)
    assert index.shard_counts("train") == [6, 6, 4]
    assert index.classes == ["cat", "dog"]
    assert index.train_shorter_side == 100
    assert json.loads((out / "shards.json").read_text())["counts"]["test"] == {"cat": 2, "dog": 2}
    printed = capsys.readouterr().out
    assert "training images reduced to a 100 px shorter side" in printed
    assert f"python train.py data=stream data.source.url={out}" in printed
    write_data_as_shards(shards_config(tmp_path, f"out={out}", "shard_size=8"))  # shards are replaced whole
    assert ShardIndex.read(str(out)).shard_counts("train") == [8, 8]


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ("train_shorter_side=0", r"train_shorter_side=0: give a side in pixels"),
        ("shard_size=0", r"shard_size=0: give the samples per shard"),
        ("data=stream", r"data=stream is already shards"),
        ("out=occupied", r"out=.*occupied exists and holds no shards\.json"),
    ],
)
def test_each_mistake_is_refused_before_anything_is_written(tmp_path, override, complaint):
    write_image_tree(tmp_path / "photos", {"train": {"cat": 2, "dog": 2}})
    (tmp_path / "occupied").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "occupied" / "holiday.png")
    out = f"out={tmp_path / 'occupied'}" if override == "out=occupied" else f"out={tmp_path / 'shards'}"
    extra = ["data.source.url=unused"] if override == "data=stream" else []
    overrides = [out, *extra] + ([] if override.startswith("out=") else [override])
    cfg = shards_config(tmp_path, *overrides)
    with pytest.raises(ConfigError, match=complaint):
        write_data_as_shards(cfg)
    assert not (tmp_path / "shards").exists()
    assert [path.name for path in (tmp_path / "occupied").iterdir()] == ["holiday.png"]
