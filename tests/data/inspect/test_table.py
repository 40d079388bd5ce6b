"""Labels from a CSV (data=csv): every problem of the table is listed at once, with its line; the same images
listed by a CSV or by class folders give identical classes and splits, whatever the rows' order; a multi-label
split keeps each rare label in validation."""

import csv
import random

import pytest

from inception_tl.data.inspect import TableColumns, list_table
from inception_tl.errors import ConfigError, DataError
from tests.helpers import make_datamodule, write_image_tree


def write_csv(path, rows, header=("path", "label", "split")):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def folder_rows(root, with_split: bool):
    """A row per image of the class-folder tree at `root`: its relative path, its class, and its split."""
    rows = []
    for path in sorted(root.rglob("*.png")):
        split, name = path.relative_to(root).parts[:2]
        rows.append([str(path.relative_to(root)), name, *([split] if with_split else [])])
    return rows


@pytest.fixture(scope="module")
def tree(shared_tmp):
    counts = {"train": {"cat": 7, "dog": 6, "fox": 5}, "test": {"cat": 2, "dog": 2, "fox": 2}}
    return write_image_tree(shared_tmp("table") / "pets", counts, size=32)


def table_datamodule(csv_path, images, **options):
    return make_datamodule(images, csv=str(csv_path), images=str(images), val_split=0.25, **options)


@pytest.mark.parametrize("with_split", [True, False], ids=["split-column", "no-split-column"])
def test_a_csv_of_a_folder_gives_its_classes_and_splits_whatever_the_row_order(tree, tmp_path, with_split):
    rows = folder_rows(tree, with_split)
    random.Random(0).shuffle(rows)
    header = ("path", "label", "split") if with_split else ("path", "label")
    table = table_datamodule(write_csv(tmp_path / "labels.csv", rows, header), tree)
    folder = make_datamodule(tree, val_split=0.25)
    assert table.class_names == folder.class_names == ["cat", "dog", "fox"]
    if with_split:
        assert table.samples == folder.samples  # the same paths, labels and order in train, val and test
    else:  # every row trains: the split of the test images too, so compare with the training folder alone
        assert set(table.samples) == {"train", "val"}
        assert sum(map(len, table.samples.values())) == 24
        assert table.setup_data().counts["val"] == {"cat": 2, "dog": 2, "fox": 2}


def test_every_problem_of_the_table_is_listed_at_once_with_its_line(tree, tmp_path):
    rows = folder_rows(tree, with_split=True)
    rows[3] = ["train/cat/missing.png", "cat", "train"]  # line 5
    rows[4] = [rows[4][0], "", "train"]  # line 6: empty label
    rows[5] = [rows[5][0], "cat", "vaildation"]  # line 7: a misspelt split
    rows.append(rows[0])  # the first image again, last
    table = write_csv(tmp_path / "labels.csv", rows)
    with pytest.raises(DataError) as raised:
        table_datamodule(table, tree)
    message = str(raised.value)
    assert f"The label table {table} has problems" in message
    assert "empty 'label' on line(s) 6." in message
    assert "split 'vaildation' on line(s) 7 is none of train, val, test" in message
    assert f"line {len(rows) + 1} repeats line 2's {rows[0][0]}" in message
    assert f"{tree / 'train/cat/missing.png'}: no such file" in message
    assert f"Relative paths in {table} start at data.images={tree}." in message


def test_skipping_bad_images_trains_without_the_missing_files_and_lists_them(tree, tmp_path):
    rows = [*folder_rows(tree, with_split=True), ["train/dog/gone.png", "dog", "train"]]
    datamodule = table_datamodule(write_csv(tmp_path / "labels.csv", rows), tree, on_bad_image="skip")
    assert [bad.path for bad in datamodule.setup_data().scan.bad_images] == [str(tree / "train/dog/gone.png")]
    assert sum(map(len, datamodule.samples.values())) == 24


def test_other_column_names_and_a_missing_column_are_said(tree, tmp_path):
    rows = folder_rows(tree, with_split=True)
    renamed = write_csv(tmp_path / "renamed.csv", rows, header=("file", "class", "split"))
    columns = {"path": "file", "label": "class", "split": "split"}
    assert table_datamodule(renamed, tree, columns=columns).samples == make_datamodule(tree).samples
    with pytest.raises(DataError, match=r"has no column 'path' or 'label' \(its columns: \['file', 'class', 'split'\]"):
        table_datamodule(renamed, tree)
    with pytest.raises(DataError, match=r"labels\.csv does not exist: set it to the CSV"):
        table_datamodule(tmp_path / "labels.csv", tree)


def test_a_label_only_in_the_test_rows_and_a_single_training_label_are_problems(tree, tmp_path):
    rows = [["train/cat/cat-000.png", "cat"], ["test/cat/cat-000.png", "owl", "test"]]
    with pytest.raises(DataError) as raised:
        table_datamodule(write_csv(tmp_path / "labels.csv", rows), tree)
    assert "has a single label; a classifier needs at least two classes" in str(raised.value)
    assert "not in train: ['owl']" in str(raised.value)


def test_multi_label_rows_list_their_label_sets_and_a_rare_label_is_held_out_for_validation(tmp_path):
    root = write_image_tree(tmp_path / "photos", {"all": {"x": 20}}, size=32)
    paths = sorted((root / "all" / "x").glob("*.png"))
    # "owl" is on 5 images of 20; sorted by the rarest label, validation (a quarter) holds about a quarter of them.
    cells = ["cat;dog", "dog", "cat ; owl", "cat"] * 5
    rows = [[str(path.relative_to(root)), cell] for path, cell in zip(paths, cells, strict=True)]
    table = write_csv(tmp_path / "tags.csv", rows, header=("path", "label"))
    listing = list_table(table, root, TableColumns(), multi_label=True, separator=";")
    assert listing.class_names == ["cat", "dog", "owl"]
    assert listing.candidates["train"][:4] == [(str(paths[0]), (0, 1)), (str(paths[1]), (1,)),
                                                (str(paths[2]), (0, 2)), (str(paths[3]), (0,))]  # fmt: skip
    datamodule = table_datamodule(table, root, multi_label=True)
    held_out = [label for _, label in datamodule.samples["val"]]
    assert len(held_out) == 5
    assert sum(2 in label for label in held_out) == 1  # a quarter of the 5 owls, rounded: 1
    assert sum(0 in label for label in held_out) >= 1


def test_multi_label_needs_a_table(tree):
    with pytest.raises(ConfigError, match=r"data\.multi_label=true needs several labels per image"):
        make_datamodule(tree, multi_label=True)


def test_data_csv_without_its_table_says_what_to_set(tmp_path):
    from hydra.utils import instantiate

    from tests.helpers import compose_config

    cfg = compose_config(["data=csv", f"paths.data_dir={tmp_path}"], tmp_path / "run")
    with pytest.raises(Exception, match=r"data=csv needs data\.csv=PATH"):
        instantiate(cfg.data, backbone="inception_v3")
