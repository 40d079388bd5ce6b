"""The pre-training scan: a battery of bad folders, each problem named with its file, all reported at once."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from inception_tl.data.inspect.report import class_counts
from inception_tl.data.inspect.scan import scan_folder
from inception_tl.data.options import VerifyMode
from inception_tl.data.store.decode import load_rgb
from inception_tl.errors import ConfigError, DataError
from inception_tl.tasks.cli import run_or_exit
from inception_tl.tasks.train import run
from tests.helpers import compose_config, make_datamodule, write_image_tree


def random_png_bytes(tmp_path, size=80) -> bytes:
    path = tmp_path / "scratch.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    return path.read_bytes()


def write_awkward_images(folder) -> dict[str, tuple[int, int]]:
    """Images PIL reads but `convert("RGB")` alone gets wrong; returns each file's upright size."""
    Image.fromarray(np.full((80, 90), 40000, dtype=np.uint16)).save(folder / "grey16.png")
    Image.new("CMYK", (80, 80), (0, 255, 255, 0)).save(folder / "cmyk.jpg")
    Image.new("RGBA", (80, 80), (0, 0, 255, 0)).save(folder / "rgba.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    Image.new("RGB", (120, 80), (0, 255, 0)).save(folder / "rotated.jpg", exif=exif)
    return {"grey16.png": (90, 80), "cmyk.jpg": (80, 80), "rgba.png": (80, 80), "rotated.jpg": (80, 120)}


@pytest.fixture
def battery(tmp_path):
    """train/{cat,dog}: good images, three unreadable ones, four awkward ones, and two non-image files."""
    root = write_image_tree(tmp_path / "images", {"train": {"cat": 4, "dog": 4}, "test": {"cat": 2, "dog": 2}})
    cat, dog = root / "train" / "cat", root / "train" / "dog"
    (cat / "notes.png").write_text("a text file with an image's name")
    (cat / "empty.jpg").write_bytes(b"")
    png = random_png_bytes(tmp_path)
    (dog / "truncated.png").write_bytes(png[: len(png) // 2])
    (dog / "labels.txt").write_text("not an image")
    (dog / "Thumbs.db").write_bytes(b"\0" * 16)
    sizes = write_awkward_images(cat)
    return root, sizes


def test_every_unreadable_image_is_named_in_one_error_with_the_fix(battery):
    root, _ = battery
    with pytest.raises(DataError) as error:
        make_datamodule(root)
    message = str(error.value)
    for bad in ("train/cat/notes.png", "train/cat/empty.jpg", "train/dog/truncated.png"):
        assert str(root / bad) in message
    assert "3 image file(s) cannot be read" in message
    assert "data.on_bad_image=skip" in message
    for fine in ("grey16.png", "cmyk.jpg", "rgba.png", "rotated.jpg", "labels.txt"):
        assert fine not in message


def test_skipping_drops_exactly_the_unreadable_images_and_keeps_the_awkward_ones_upright(battery):
    root, sizes = battery
    datamodule = make_datamodule(root, on_bad_image="skip", val_split=0.25)
    scan = datamodule.setup_data().scan
    assert sorted(bad.path for bad in scan.bad_images) == sorted(
        str(root / bad) for bad in ("train/cat/notes.png", "train/cat/empty.jpg", "train/dog/truncated.png")
    )
    assert sorted(scan.not_images) == [str(root / "train/dog/Thumbs.db"), str(root / "train/dog/labels.txt")]
    kept = {path for split in ("train", "val") for path, _ in datamodule.samples[split]}
    assert len(kept) == 4 + 4 + 4  # the good ones and the four awkward ones
    for name, size in sizes.items():
        path = str(root / "train" / "cat" / name)
        assert path in kept
        image = load_rgb(path)
        assert (image.mode, image.size) == ("RGB", size)


def test_skipped_images_and_ignored_files_are_listed_in_the_run_directory(battery, tmp_path):
    root, _ = battery
    report = make_datamodule(root, on_bad_image="skip", val_split=0.25).setup_data()
    notes = report.notes
    assert any("Ignored 2 file(s) that are not images" in note and "labels.txt" in note for note in notes)
    assert any("Skipped 3 unreadable image(s)" in note for note in notes)
    report.write(tmp_path / "run")
    with open(tmp_path / "run" / "skipped_images.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["path"] for row in rows} == {bad.path for bad in report.scan.bad_images}
    assert all(row["reason"] for row in rows)
    summary = json.loads((tmp_path / "run" / "data_summary.json").read_text())
    assert summary["counts"]["test"] == {"cat": 2, "dog": 2}
    assert sum(summary["counts"]["train"].values()) + sum(summary["counts"]["val"].values()) == 12


def test_a_truncated_jpeg_passes_the_header_check_and_is_caught_by_full_verification(tmp_path):
    root = write_image_tree(tmp_path / "images", {"train": {"a": 3, "b": 3}})
    path = tmp_path / "whole.jpg"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (80, 80, 3), dtype=np.uint8)).save(path)
    (root / "train" / "a" / "cut.jpg").write_bytes(path.read_bytes()[:-200])
    assert scan_folder(root, VerifyMode.header, workers=1, fingerprints=False).bad_images == []
    with pytest.raises(DataError, match=r"train/a/cut\.jpg: image file is truncated"):
        make_datamodule(root, verify="full")


@pytest.mark.parametrize(
    ("layout", "complaint"),
    [
        ({"val": {"a": 2, "b": 2}}, r"no training split: .*/train does not exist"),
        ({"train": {"a": 3, "b": 0}}, r"train/b has no images"),
        ({"train": {"a": 3, "b": 3}, "test": {"a": 2, "c": 2}}, r"test differ .*missing \['b'\]; not in train/: \['c'"),
        ({"train": {"a": 3, "b": 3}, "val": {}}, r"val has no class folders"),
        ({"train": {"a": 3}}, r"train has a single class folder; a classifier needs at least two"),
    ],
)
def test_each_layout_problem_names_the_folder(tmp_path, layout, complaint):
    root = write_image_tree(tmp_path / "images", layout)
    for split in layout:
        (root / split).mkdir(parents=True, exist_ok=True)
    with pytest.raises(DataError, match=complaint):
        make_datamodule(root)


def test_all_problems_are_reported_together(tmp_path):
    root = write_image_tree(tmp_path / "images", {"train": {"a": 3, "b": 3, "c": 0}, "test": {"a": 2, "d": 2}})
    (root / "train" / "a" / "broken.png").write_bytes(b"nope")
    with pytest.raises(DataError) as error:
        make_datamodule(root)
    message = str(error.value)
    assert "train/c has no images" in message
    assert "not in train/: ['d']" in message
    assert str(root / "train" / "a" / "broken.png") in message


def test_a_class_left_empty_by_skipping_is_still_an_error(tmp_path):
    root = write_image_tree(tmp_path / "images", {"train": {"a": 3, "b": 0}})
    (root / "train" / "b" / "only.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"train/b has no readable images"):
        make_datamodule(root, on_bad_image="skip")


@pytest.mark.parametrize(
    ("option", "value"), [("verify", "fast"), ("on_bad_image", "ignore"), ("balance", "oversample")]
)
def test_unknown_data_options_fail_before_the_folder_is_read(tmp_path, option, value):
    with pytest.raises(ConfigError, match=rf"data.{option}='{value}': choose"):
        make_datamodule(tmp_path / "not-read", **{option: value})


def test_hidden_files_and_folders_are_not_images_of_the_class(tmp_path):
    root = write_image_tree(tmp_path / "images", {"train": {"a": 3, "b": 3}})
    hidden = root / "train" / "a" / ".thumbnails"
    hidden.mkdir()
    (hidden / "a-000.png").write_bytes(b"a cached thumbnail, not a training image")
    (root / "train" / "b" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    scan = scan_folder(root, VerifyMode.header, workers=1, fingerprints=False)
    assert class_counts(scan.samples, scan.class_names)["train"] == {"a": 3, "b": 3}
    assert scan.bad_images == []
    assert scan.not_images == []


def test_the_printed_summary_keeps_long_paths_whole(tmp_path):
    from inception_tl.evaluation.writer import console
    from inception_tl.tasks.summary import print_data_report

    deep = tmp_path / ("a-folder-with-a-long-name-" * 6)  # wider than any terminal line
    root = write_image_tree(deep, {"train": {"a": 3, "b": 3}})
    broken = root / "train" / "b" / "broken.png"
    broken.write_bytes(b"not a png")
    datamodule = make_datamodule(root, on_bad_image="skip", val_split=0.34)
    with console.capture() as captured:
        print_data_report(datamodule.setup_data())
    assert str(broken) in captured.get()  # one line, so grep and copy-paste find it


def test_a_broken_image_stops_the_whole_run_naming_it_or_is_skipped_and_listed(tmp_path, capfd):
    """The whole of train.py's run, as the CLI calls it (run_or_exit): one message and exit 1, or with
    data.on_bad_image=skip a finished run that lists the image it left out."""
    root = write_image_tree(tmp_path / "mine", {"train": {"cat": 6, "dog": 6}, "test": {"cat": 2, "dog": 2}})
    broken = root / "train" / "dog" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    common = ["data=imagefolder", f"data.root={root}", "backbone.pretrained=false", "data.image_size=75"]
    common += [f"paths.data_dir={tmp_path / 'cache'}", "callbacks.progress_bar=null"]
    # fast_dev_run: one batch of each pass, so the evaluation scores 2 of the 4 test images.
    common += ["debug=fast_dev_run", "data.batch_size=2", "data.num_workers=0", "trainer=cpu"]

    with pytest.raises(SystemExit) as exited:
        run_or_exit(run, compose_config(common, tmp_path / "refused"))
    assert exited.value.code == 1
    refused = capfd.readouterr().err
    assert str(broken) in refused
    assert "data.on_bad_image=skip" in refused
    assert "Traceback" not in refused

    run_dir = tmp_path / "skipped"
    metrics = run_or_exit(run, compose_config([*common, "data.on_bad_image=skip"], run_dir))
    output = capfd.readouterr()
    # Lightning's own lines go to the console once, through its handler (training/quiet.py), not the root logger.
    assert "Running in `fast_dev_run` mode" in output.err
    with open(run_dir / "skipped_images.csv") as handle:
        assert [row["path"] for row in csv.DictReader(handle)] == [str(broken)]
    summary = json.loads((run_dir / "data_summary.json").read_text())
    assert summary["not_images"] == [str(root / "train" / "cat" / "notes.txt")]
    assert summary["counts"]["test"] == {"cat": 2, "dog": 2}
    assert (
        sum(summary["counts"]["train"].values()) + sum(summary["counts"]["val"].values()) == 12
    )  # the broken one left out
    assert "Skipped 1 unreadable image(s)" in output.out
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    assert metrics["best_checkpoint"] is None  # fast_dev_run saves none
    assert "test/acc" in metrics
    assert "The test pass is limited (debug): 2 of 4 images." in output.out
    assert sum(map(sum, metrics["test/confusion_matrix"])) == 2
