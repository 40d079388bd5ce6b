"""data=hf: a Hugging Face data set, saved with save_to_disk or as parquet files, read through `datasets` and
trained exactly as the same images given as a folder."""

import io
import json

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
    return HuggingFaceDataset(str(path), None, "image", "label", options.get("splits"), None)


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
        HuggingFaceDataset(None, None, "image", "label", None, None).prepare(tmp_path / "out")


def test_a_missing_column_or_split_names_what_there_is(tmp_path):
    image_dataset({"training": 4}).save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(DataError, match=r"no split 'train'.*\['training'\].*data.source.splits.train"):
        source(tmp_path / "saved").prepare(tmp_path / "out")
    with pytest.raises(DataError, match=r"no column 'picture'"):
        HuggingFaceDataset(str(tmp_path / "saved"), None, "picture", "label", {"train": "training"}, None).prepare(
            tmp_path / "out2"
        )


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
