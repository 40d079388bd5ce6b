"""data=hf: a Hugging Face data set, saved with save_to_disk or as parquet files, read through `datasets` and
trained exactly as the same images given as a folder."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inception_tl.data.sources import HuggingFaceDataset
from inception_tl.errors import DataError
from inception_tl.tasks.train import run
from tests.helpers import compose_config

datasets = pytest.importorskip("datasets")

CLASSES = ["cat", "dog"]


def png(seed: int, size: int = 80) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def image_dataset(counts: dict[str, int]):
    """A DatasetDict of PNG images with a ClassLabel column, labels alternating."""
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=CLASSES)})
    splits = {}
    for offset, (split, n) in enumerate(counts.items()):
        images = [{"bytes": png(1000 * offset + i), "path": None} for i in range(n)]
        splits[split] = datasets.Dataset.from_dict({"image": images, "label": [i % 2 for i in range(n)]}, features)
    return datasets.DatasetDict(splits)


def source(path, **options):
    return HuggingFaceDataset(str(path), None, "image", "label", options.get("splits"), None, False, ";")


def tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and not p.name.startswith(".")}


def test_a_saved_data_set_and_its_parquet_files_become_the_same_image_folder(tmp_path):
    data = image_dataset({"train": 6, "test": 2})
    data.save_to_disk(str(tmp_path / "saved"))
    (tmp_path / "parquet").mkdir()
    for split, part in data.items():
        part.to_parquet(str(tmp_path / "parquet" / f"{split}-00000-of-00001.parquet"))
    source(tmp_path / "saved").prepare(tmp_path / "from-saved")
    source(tmp_path / "parquet").prepare(tmp_path / "from-parquet")
    written = tree(tmp_path / "from-saved")
    assert written == tree(tmp_path / "from-parquet")
    # Named by split, class (the ClassLabel's names) and row; the original bytes, not re-encoded.
    expected = ["test/cat/test-0000000.png", "test/dog/test-0000001.png"]
    expected += [f"train/{CLASSES[i % 2]}/train-{i:07d}.png" for i in range(6)]
    assert sorted(written) == sorted(expected)
    assert written["train/cat/train-0000000.png"] == png(0)
    assert written["test/dog/test-0000001.png"] == png(1001)


def test_a_missing_path_says_what_to_give(tmp_path):
    from inception_tl.errors import ConfigError

    with pytest.raises(ConfigError, match=r"data=hf needs data\.source\.path"):
        HuggingFaceDataset(None, None, "image", "label", None, None, False, ";").prepare(tmp_path / "out")


def test_a_missing_column_or_split_names_what_there_is(tmp_path):
    image_dataset({"training": 4}).save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(DataError, match=r"no split 'train'.*\['training'\].*data.source.splits.train"):
        source(tmp_path / "saved").prepare(tmp_path / "out")
    with pytest.raises(DataError, match=r"no column 'picture'"):
        HuggingFaceDataset(
            str(tmp_path / "saved"), None, "picture", "label", {"train": "training"}, None, False, ";"
        ).prepare(tmp_path / "out2")


def test_training_on_the_data_set_equals_training_on_the_same_images_as_a_folder(tmp_path):
    """The same seed, the same splits, the same test metrics."""
    data = image_dataset({"train": 24, "test": 6})
    data.save_to_disk(str(tmp_path / "saved"))
    folder = tmp_path / "folder"
    source(tmp_path / "saved").prepare(folder)  # the tree data=hf writes, given as the user's own folder
    common = ["experiment=quickstart", "data.batch_size=8", "trainer.max_epochs=1", "figures=false",
              "callbacks.progress_bar=null", f"paths.data_dir={tmp_path / 'data'}"]
    from_hf = run(compose_config([*common, "data=hf", f"data.source.path={tmp_path / 'saved'}"], tmp_path / "hf-run"))
    from_folder = run(compose_config([*common, "data=imagefolder", f"data.root={folder}"], tmp_path / "folder-run"))
    for key in ("test/acc", "test/f1", "test/auroc", "test/loss", "val/acc"):
        assert from_hf[key] == from_folder[key], key
    summary = json.loads((tmp_path / "hf-run" / "data_summary.json").read_text())
    assert summary["class_names"] == CLASSES


def tagged_dataset(label_feature, labels: dict[str, list]):
    """A DatasetDict of PNG images with a list-valued label column `tags`."""
    features = datasets.Features({"image": datasets.Image(), "tags": label_feature})
    return datasets.DatasetDict({
        split: datasets.Dataset.from_dict(
            {"image": [{"bytes": png(100 * offset + i), "path": None} for i in range(len(rows))], "tags": rows},
            features,
        )
        for offset, (split, rows) in enumerate(labels.items())
    })


def hf_datamodule(tmp_path, saved, *overrides):
    from hydra.utils import instantiate

    cfg = compose_config(["data=hf", f"data.source.path={saved}", "data.source.label_column=tags",
                          "data.image_size=75", "data.num_workers=0", f"paths.data_dir={tmp_path / 'data'}",
                          *overrides], tmp_path / "run")
    datamodule = instantiate(cfg.data, backbone="inception_v3")
    datamodule.setup_data()
    return datamodule


TAGS = {"train": [[0, 1], [1], [0, 2], [2], [0], [1, 2], [0, 1, 2], [1]], "test": [[2], [0, 1], [1], [0]]}


@pytest.mark.parametrize("values", ["class_label", "strings"])
def test_a_list_valued_label_column_gives_each_image_its_own_labels_for_multi_label_training(tmp_path, values):
    names = ["cat", "dog", "owl"]
    if values == "class_label":
        data = tagged_dataset(datasets.List(datasets.ClassLabel(names=names)), TAGS)
    else:
        data = tagged_dataset(datasets.List(datasets.Value("string")),
                              {split: [[names[i] for i in row] for row in rows] for split, rows in TAGS.items()})
    data.save_to_disk(str(tmp_path / "saved"))
    datamodule = hf_datamodule(tmp_path, tmp_path / "saved", "data.multi_label=true", "data.val_split=0.25")
    report = datamodule.setup_data()
    assert report.class_names == names
    read = {}
    for split, samples in report.samples.items():
        for path, label in samples:
            original, row = Path(path).stem.split("-")
            assert (split == "test") == (original == "test")  # val is held out of train
            read[(original, int(row))] = tuple(label)
            assert Path(path).read_bytes() == png((100 if original == "test" else 0) + int(row))
    expected = {(split, row): tuple(tags) for split, rows in TAGS.items() for row, tags in enumerate(rows)}
    assert read == expected
    assert len(report.samples["val"]) == 2


def test_a_list_valued_column_without_multi_label_or_an_image_without_labels_says_what_to_do(tmp_path):
    feature = datasets.List(datasets.ClassLabel(names=["cat", "dog"]))
    tagged_dataset(feature, {"train": [[0], [1], [0, 1], [1]]}).save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(DataError, match=r"column 'tags' holds several labels per image .*data\.multi_label=true"):
        hf_datamodule(tmp_path, tmp_path / "saved")
    tagged_dataset(feature, {"train": [[0], [], [0, 1], []]}).save_to_disk(str(tmp_path / "gaps"))
    with pytest.raises(DataError, match=r"split 'train': 2 of 4 row\(s\) have no label \(1, 3\).*filter"):
        hf_datamodule(tmp_path, tmp_path / "gaps", "data.multi_label=true")


def test_a_hub_name_out_of_reach_says_how_to_train_offline(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(DataError, match=r"'no-such-user/no-such-set' cannot be loaded .*HF_HUB_OFFLINE is set.*"
                                        r"save_to_disk or to_parquet") as raised:
        source("no-such-user/no-such-set").prepare(tmp_path / "out")
    assert "\n" not in str(raised.value)


def test_an_unlabelled_test_split_is_named_and_can_be_left_out(tmp_path):
    """Hub data sets mark unlabelled rows with the ClassLabel's -1: never read as the last class."""
    data = image_dataset({"train": 8, "test": 4})
    data["test"] = data["test"].map(lambda row: {"label": -1})
    data.save_to_disk(str(tmp_path / "saved"))
    labels = "data.source.label_column=label"
    with pytest.raises(DataError, match=r"split 'test': 4 of 4 row\(s\) have no label .*~data\.source\.splits\.test"):
        hf_datamodule(tmp_path, tmp_path / "saved", labels)
    datamodule = hf_datamodule(tmp_path, tmp_path / "saved", labels, "~data.source.splits.test")
    assert not datamodule.has_test
    assert sum(len(datamodule.samples[split]) for split in ("train", "val")) == 8
