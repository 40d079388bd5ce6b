"""The mistakes of a new user's first hour, made on the real command line: each ends in one line that says what is
wrong and how to fix it, exit code 1, no traceback, within seconds (before any model is built)."""

import time

import numpy as np
import pytest
from PIL import Image

from tests.helpers import run_entry_point

QUICK = ["backbone.pretrained=false", "data.image_size=75", "data.num_workers=0", "trainer=cpu"]


@pytest.fixture(scope="module")
def labelled_photos(shared_tmp):
    """photos/0.png ... 11.png and labels.csv, whose third rows hold two labels, `a;b`."""
    root = shared_tmp("mistakes")
    (root / "photos").mkdir()
    rng = np.random.default_rng(0)
    rows = ["path,label"]
    for index in range(12):
        Image.fromarray(rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)).save(root / "photos" / f"{index}.png")
        rows.append(f"{index}.png,{['a', 'b', 'a;b'][index % 3]}")
    (root / "photos" / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def one_line_error(tmp_path, *arguments: str) -> str:
    """The error `python train.py ARGUMENTS` ends with, checked to be one line, exit 1, no traceback, in seconds."""
    start = time.monotonic()
    places = [f"paths.data_dir={tmp_path}", f"hydra.run.dir={tmp_path}/run"]
    result = run_entry_point("train.py", *QUICK, *places, *arguments)
    assert time.monotonic() - start < 15
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_a_misspelt_images_folder_is_named_as_missing_once(tmp_path, labelled_photos):
    error = one_line_error(
        tmp_path, "data=csv", f"data.csv={labelled_photos / 'photos' / 'labels.csv'}", "data.multi_label=true",
        f"data.images={labelled_photos / 'fotos'}",
    )  # fmt: skip
    assert f"data.images={labelled_photos / 'fotos'} does not exist" in error
    assert "on_bad_image" not in error


def test_a_missing_csv_is_named(tmp_path, labelled_photos):
    error = one_line_error(tmp_path, "data=csv", f"data.csv={labelled_photos / 'labels.csv'}")
    assert f"data.csv={labelled_photos / 'labels.csv'} does not exist" in error


def test_an_image_folder_without_a_root_says_to_set_it(tmp_path):
    error = one_line_error(tmp_path, "data=imagefolder")
    assert "data.root is not set" in error


def test_a_csv_without_its_path(tmp_path):
    assert "data=csv needs data.csv=PATH" in one_line_error(tmp_path, "data=csv")


def test_label_cells_with_the_separator_in_a_single_label_run_say_to_turn_on_multi_label(tmp_path, labelled_photos):
    """`a;b` would otherwise train as a class of its own, silently."""
    error = one_line_error(tmp_path, "data=csv", f"data.csv={labelled_photos / 'photos' / 'labels.csv'}")
    assert "line(s) 4, 7, 10, 13 hold the separator ';' (line 4: 'a;b')" in error
    assert "data.multi_label=true" in error
    assert "data.label_separator" in error


def test_a_missing_folder_is_named(tmp_path):
    error = one_line_error(tmp_path, "data=imagefolder", f"data.root={tmp_path / 'no-such-folder'}")
    assert f"data.root={tmp_path / 'no-such-folder'} does not exist" in error
