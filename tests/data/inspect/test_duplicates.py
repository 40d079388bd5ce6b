"""Leakage checks: copies of training images in the evaluation splits are found before training, named,
and (on request) stop the run or are removed from evaluation; distinct images are not flagged."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from inception_tl.data.sources import Shapes
from inception_tl.errors import ConfigError, DataError
from tests.helpers import make_datamodule


def smooth_image(rng: np.random.Generator, size: int = 96) -> Image.Image:
    """A photo-like image: random colour blobs (noise at 6 x 6, upsampled), not pixel noise."""
    coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)


@pytest.fixture
def leaky_folder(tmp_path):
    """train/val/test of two classes with 4 distinct images each, then two planted copies in test: one
    byte-identical to a training file, one resized to 70% and re-encoded as JPEG from another."""
    rng = np.random.default_rng(0)
    root = tmp_path / "leaky"
    for split in ("train", "val", "test"):
        for name in ("cat", "dog"):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(4):
                smooth_image(rng).save(folder / f"{split}-{name}-{index}.png")
    exact_source = root / "train" / "cat" / "train-cat-0.png"
    exact_copy = root / "test" / "cat" / "copied.png"
    exact_copy.write_bytes(exact_source.read_bytes())
    near_source = root / "train" / "dog" / "train-dog-1.png"
    near_copy = root / "test" / "dog" / "resized.jpg"
    Image.open(near_source).resize((67, 67), Image.Resampling.BILINEAR).save(near_copy, quality=80)
    # A byte-identical pair inside train/: no leakage, but counted.
    (root / "train" / "dog" / "again.png").write_bytes((root / "train" / "dog" / "train-dog-2.png").read_bytes())
    return root, {(str(exact_source), str(exact_copy)), (str(near_source), str(near_copy))}


def test_copies_across_splits_are_listed_with_both_paths_and_copies_within_a_split_counted(tmp_path, leaky_folder):
    root, planted = leaky_folder
    datamodule = make_datamodule(root, on_duplicate="warn")
    report = datamodule.setup_data().duplicates
    assert {(pair.first_path, pair.second_path) for pair in report.across} == planted
    assert {pair.kind for pair in report.across} == {"exact", "near"}
    assert all(pair.first_split == "train" and pair.second_split == "test" for pair in report.across)
    assert report.within["train"] == {"exact": 1, "near": 0}
    assert len(datamodule.samples["test"]) == 10  # warn keeps them

    datamodule.setup_data().write(tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "data_summary.json").read_text())
    listed = {(pair["first_path"], pair["second_path"]) for pair in summary["duplicates"]["across_splits"]}
    assert listed == planted
    assert any("Leakage: 2 pair(s)" in note for note in summary["notes"])
    with open(tmp_path / "run" / "duplicates.csv") as handle:
        assert {(row["first_path"], row["second_path"]) for row in csv.DictReader(handle)} == planted


def test_on_duplicate_error_stops_naming_both_files_of_each_pair(leaky_folder):
    root, planted = leaky_folder
    with pytest.raises(DataError, match="2 image\\(s\\) appear in more than one split") as raised:
        make_datamodule(root, on_duplicate="error")
    for source, copy in planted:
        assert source in str(raised.value)
        assert copy in str(raised.value)
    assert "data.on_duplicate=drop" in str(raised.value)


def test_on_duplicate_drop_removes_the_evaluation_copies_and_lists_them(tmp_path, leaky_folder):
    root, planted = leaky_folder
    copies = {copy for _, copy in planted}
    datamodule = make_datamodule(root, on_duplicate="drop")
    test_paths = {path for path, _ in datamodule.samples["test"]}
    assert len(test_paths) == 8
    assert not copies & test_paths
    assert {source for source, _ in planted} <= {path for path, _ in datamodule.samples["train"]}

    datamodule.setup_data().write(tmp_path / "run")
    with open(tmp_path / "run" / "dropped_duplicates.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["path"] for row in rows} == copies
    assert {(row["copy_of"], row["path"]) for row in rows} == planted


def test_a_copy_split_off_into_val_is_caught_too(tmp_path):
    """The validation split is carved out of train/ after the scan: copies inside train/ can end up on both sides."""
    rng = np.random.default_rng(1)
    root = tmp_path / "carved"
    for name in ("cat", "dog"):
        (root / "train" / name).mkdir(parents=True)
        for index in range(10):
            smooth_image(rng).save(root / "train" / name / f"{index}.png")
    for index in range(10):
        original = root / "train" / "cat" / f"{index}.png"
        (root / "train" / "cat" / f"copy-{index}.png").write_bytes(original.read_bytes())
    report = make_datamodule(root, val_split=0.5).setup_data().duplicates
    within = report.within["train"]["exact"] + report.within["val"]["exact"]
    assert len(report.across) + within == 10
    assert {(pair.first_split, pair.second_split) for pair in report.across} == {("train", "val")}


def test_distinct_generated_shapes_are_not_flagged(tmp_path):
    """Discs of different colours at the same place share a grey pHash; the colour check tells them apart."""
    root = tmp_path / "shapes"
    Shapes(classes=["circle", "square"], train_per_class=60, test_per_class=30, image_size=96, seed=0).prepare(root)
    report = make_datamodule(root).setup_data().duplicates
    assert report.across == []
    assert all(counts == {"exact": 0, "near": 0} for counts in report.within.values())


def test_off_skips_fingerprinting_and_bad_options_are_refused(leaky_folder):
    root, _ = leaky_folder
    datamodule = make_datamodule(root, on_duplicate="off")
    report = datamodule.setup_data()
    assert report.duplicates is None
    assert report.scan.fingerprints == {}
    with pytest.raises(ConfigError, match=r"data\.on_duplicate='ignore'"):
        make_datamodule(root, on_duplicate="ignore")
    with pytest.raises(ConfigError, match=r"data\.near_duplicate_bits=40"):
        make_datamodule(root, near_duplicate_bits=40)
