import hashlib

import pytest

from inception_tl.data.inspect.report import class_counts
from inception_tl.data.inspect.scan import scan_folder
from inception_tl.data.options import VerifyMode
from inception_tl.data.sources import Shapes
from inception_tl.errors import DataError


def fingerprint(root):
    return {p.relative_to(root): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.png"))}


def test_shapes_are_written_once_deterministically_in_the_folder_layout(tmp_path):
    source = Shapes(classes=["circle", "star"], train_per_class=4, test_per_class=2, image_size=80, seed=5)
    source.prepare(tmp_path / "a")
    Shapes(classes=["circle", "star"], train_per_class=4, test_per_class=2, image_size=80, seed=5).prepare(
        tmp_path / "b"
    )
    assert fingerprint(tmp_path / "a") == fingerprint(tmp_path / "b")
    scan = scan_folder(tmp_path / "a", VerifyMode.header, workers=1, fingerprints=False)
    assert scan.class_names == ["circle", "star"]
    assert class_counts(scan.samples, scan.class_names)["test"] == {"circle": 2, "star": 2}

    before = (tmp_path / "a" / "train" / "circle" / "0000.png").stat().st_mtime_ns
    source.prepare(tmp_path / "a")  # already there: nothing is rewritten
    assert (tmp_path / "a" / "train" / "circle" / "0000.png").stat().st_mtime_ns == before


def test_other_parameters_regenerate_and_another_seed_gives_other_images(tmp_path):
    Shapes(classes=["square"], train_per_class=2, test_per_class=1, image_size=80, seed=1).prepare(tmp_path / "s")
    first = fingerprint(tmp_path / "s")
    Shapes(classes=["square"], train_per_class=2, test_per_class=1, image_size=80, seed=2).prepare(tmp_path / "s")
    assert fingerprint(tmp_path / "s").keys() == first.keys()
    assert fingerprint(tmp_path / "s") != first


def test_a_folder_not_written_by_the_generator_is_never_overwritten(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    source = Shapes(classes=["circle"], train_per_class=1, test_per_class=1, image_size=80, seed=0)
    with pytest.raises(DataError, match="refusing to overwrite"):
        source.prepare(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"


def test_shape_tags_list_one_to_three_shapes_per_image_each_in_its_quarter(tmp_path):
    import csv

    import numpy as np
    from PIL import Image

    from inception_tl.data.sources import ShapeTags

    options = {"train_images": 30, "test_images": 6, "image_size": 64, "seed": 3}
    ShapeTags(**options, fixed_quarters=True, colour_coded=False).prepare(tmp_path / "a")
    ShapeTags(**options, fixed_quarters=True, colour_coded=False).prepare(tmp_path / "b")
    assert fingerprint(tmp_path / "a") == fingerprint(tmp_path / "b")
    with open(tmp_path / "a" / "labels.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["split"] for row in rows] == ["train"] * 30 + ["test"] * 6
    sizes = [len(row["label"].split(";")) for row in rows]
    assert set(sizes) == {1, 2, 3}
    quarters = {"circle": (0, 0), "square": (0, 1), "triangle": (1, 0), "star": (1, 1)}  # (row, column)
    for row in rows:
        pixels = np.asarray(Image.open(tmp_path / "a" / row["path"]), dtype=np.float64)
        # A quarter with a shape has a large patch far from the background colour; an empty one is noise.
        busy = {
            name: pixels[32 * r : 32 * (r + 1), 32 * c : 32 * (c + 1)].std(axis=(0, 1)).max() > 30
            for name, (r, c) in quarters.items()
        }
        assert {name for name, on in busy.items() if on} == set(row["label"].split(";")), row


def test_colour_coded_shape_tags_paint_each_shape_in_its_own_colour_over_grey(tmp_path):
    import csv

    import numpy as np
    from PIL import Image

    from inception_tl.data.sources import ShapeTags
    from inception_tl.data.sources.shapes import SHAPE_COLOURS

    source = ShapeTags(train_images=20, test_images=0, image_size=64, seed=1, fixed_quarters=True, colour_coded=True)
    source.prepare(tmp_path)
    with open(tmp_path / "labels.csv") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        pixels = np.asarray(Image.open(tmp_path / row["path"]), dtype=np.int64).reshape(-1, 3)
        # A painted pixel is exactly its shape's colour; the background's noise never lands on one.
        present = {name for name, colour in SHAPE_COLOURS.items() if (pixels == colour).all(axis=1).sum() > 20}
        assert present == set(row["label"].split(";")), row
