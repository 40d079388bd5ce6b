"""Streaming the training split from tar shards (data=stream): written from a folder by the writer, read over a
loopback HTTP server as a user's object store would serve them, split over ranks and workers without a sample
twice or lost, resumed mid-epoch at the next unseen batch, bad samples skipped with their keys or stopped, named."""

import io
import json
import multiprocessing
import re
import socket
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inception_tl.data.store import StorageSpec
from inception_tl.data.stream import StreamDataModule, StreamSource
from inception_tl.data.stream.dataset import ShardStream, StreamLoader, StreamSpec
from inception_tl.data.stream.index import ShardIndex
from inception_tl.data.stream.plan import loader_order
from inception_tl.data.stream.writer import write_shards
from inception_tl.data.worker import Augment
from inception_tl.errors import DataError
from inception_tl.tasks.cli import run_or_exit
from tests.helpers import data_options, write_image_tree

CLASSES = ["a", "b", "c"]


def write_folder_shards(tmp_path: Path, shard_size: int = 5) -> tuple[ShardIndex, dict[str, np.ndarray]]:
    """24 training images of 3 classes (and 3 validation ones) as shards; the files' pixels by training key."""
    root = write_image_tree(tmp_path / "images", {"train": dict.fromkeys(CLASSES, 8), "val": dict.fromkeys(CLASSES, 1)})
    samples = {
        split: [(str(path), CLASSES.index(path.parent.name)) for path in sorted((root / split).rglob("*.png"))]
        for split in ("train", "val")
    }
    index = write_shards(samples, CLASSES, False, tmp_path / "shards", shard_size, 0, str(root))
    order = np.random.default_rng(0).permutation(len(samples["train"]))  # the writer's shuffle of the training split
    pixels = {
        f"train-{position:08d}": np.asarray(StorageSpec(80, "bicubic").decode(samples["train"][index][0]))
        for position, index in enumerate(order)
    }
    return index, pixels


def stream(index: ShardIndex, rank: int = 0, world: int = 1, batch_size: int = 4, skip_bad: bool = False,
           augment: bool = False, window_batches: int = 2) -> ShardStream:
    spec = StreamSpec(
        classes=len(index.classes),
        multi_label=False,
        storage=StorageSpec(80, "bicubic"),
        size=75,
        resize=80,
        augment=Augment() if augment else None,
        batch_size=batch_size,
        seed=0,
        window_batches=window_batches,
        skip_bad=skip_bad,
        retry_seconds=1.0,
    )
    return ShardStream(index.urls("train"), index.shard_counts("train"), spec, rank, world)


def batches(loader: StreamLoader) -> list[dict]:
    return [dict(batch) for batch in loader]


def test_the_writer_keeps_each_files_bytes_and_counts_each_split(tmp_path):
    index, _ = write_folder_shards(tmp_path)
    read = ShardIndex.read(str(tmp_path / "shards"))
    assert read == index
    assert read.shard_counts("train") == [5, 5, 5, 5, 4]
    assert read.total("val") == 3
    assert read.counts["train"] == dict.fromkeys(CLASSES, 8)
    with tarfile.open(tmp_path / "shards" / "val-000000.tar") as archive:
        names = archive.getnames()
        record = json.loads(archive.extractfile("val-00000000.json").read())
        image = archive.extractfile("val-00000000.png").read()
    assert names[:3] == ["val-00000000.png", "val-00000000.cls", "val-00000000.json"]
    assert image == Path(record["source"]).read_bytes()  # the file as it was, not re-encoded


def test_training_images_over_the_chosen_side_are_stored_reduced_as_training_would_store_them(tmp_path):
    """shards.py train_shorter_side=N: a large training image is stored at the size a run stores it at (a PNG
    losslessly, a JPEG re-encoded), a small one and every evaluation image keep their bytes; a run that needs
    more pixels than the shards hold says so."""
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    files = {"train/a/wide.png": (240, 120), "train/b/wide.jpg": (180, 120), "train/a/small.png": (90, 70),
             "train/b/small.png": (70, 90), "val/a/wide.png": (240, 120), "val/b/wide.png": (240, 120)}
    for name, (width, height) in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        coarse = rng.integers(0, 256, (height // 10, width // 10, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC).save(root / name, quality=95)
    samples = {split: [(str(root / name), "ab".index(name.split("/")[1])) for name in files if name.startswith(split)]
               for split in ("train", "val")}
    storage = StorageSpec(80, "bicubic")
    write_shards(samples, ["a", "b"], False, tmp_path / "shards", 10, 0, str(root), train_reduce_to=storage)
    index = ShardIndex.read(str(tmp_path / "shards"))
    assert index.train_shorter_side == 80
    for split in ("train", "val"):
        with tarfile.open(tmp_path / "shards" / f"{split}-000000.tar") as archive:
            for member in archive.getnames():
                if member.endswith(".json"):
                    source = json.loads(archive.extractfile(member).read())["source"]
                    stored = next(n for n in archive.getnames() if n.startswith(member[:-4]) and n[-3:] in "pngjpg")
                    data = archive.extractfile(stored).read()
                    reduced = split == "train" and "wide" in source
                    assert (data == Path(source).read_bytes()) is not reduced, (split, source)
                    assert stored.endswith(Path(source).suffix), stored
                    if reduced:
                        with Image.open(io.BytesIO(data)) as image:
                            assert min(image.size) == 80
                        expected = storage.decode(source).astype(int)
                        got = storage.decode(io.BytesIO(data)).astype(int)
                        assert np.abs(got - expected).mean() < (2 if source.endswith(".jpg") else 1e-9), source
    # Cut from 85 px: more than the 80 stored.
    options = data_options(image_size=75, batch_size=2, num_workers=0, cache_dir=str(tmp_path / "decoded"))
    datamodule = StreamDataModule(source=StreamSource(str(tmp_path / "shards"), 1.0, 1), root=str(tmp_path / "data"),
                                  **options)
    notes = " ".join(datamodule.setup_data().notes)
    assert "reduced to a 80 px shorter side, under the 85 px" in notes
    assert "train_shorter_side=85" in notes


def test_ranks_and_workers_read_each_sample_once_over_http(tmp_path, http_server):
    """Two ranks, 0 or 2 workers each: every sample of the epoch once (24 samples = 2 ranks x 3 batches x 4), the
    same batches (as sets of samples) whatever the workers, the pixels those of the files."""
    url, served = http_server
    _index, pixels = write_folder_shards(served)
    over_http = ShardIndex.read(f"{url}/shards")
    seen = []
    for rank in (0, 1):
        by_workers = {}
        for workers in (0, 2):
            loader = StreamLoader(stream(over_http, rank, 2), lambda: 0, workers)
            got = batches(loader)
            assert len(got) == len(loader) == 3
            by_workers[workers] = sorted(tuple(batch["indices"].tolist()) for batch in got)
        assert by_workers[0] == by_workers[2]
        seen += [index for batch in by_workers[0] for index in batch]
        first = batches(StreamLoader(stream(over_http, rank, 2), lambda: 0, 0))[0]
        for image, size, position in zip(first["images"], first["sizes"], first["indices"], strict=True):
            key = f"train-{position:08d}"
            expected = pixels[key]
            assert torch.equal(image[: size[0], : size[1]], torch.tensor(expected))
    assert sorted(seen) == list(range(24))


def test_each_epoch_reads_the_shards_in_another_order_and_mixes_batches(tmp_path):
    index, _ = write_folder_shards(tmp_path)
    epochs = []
    for epoch in (0, 1):
        loader = StreamLoader(stream(index), lambda epoch=epoch: epoch, 0)
        epochs.append([batch["indices"].tolist() for batch in loader])
    assert sorted(i for b in epochs[0] for i in b) == sorted(i for b in epochs[1] for i in b) == list(range(24))
    assert epochs[0] != epochs[1]
    assert {frozenset(batch) for batch in epochs[0]} != {frozenset(batch) for batch in epochs[1]}


def test_a_resumed_epoch_goes_on_at_the_next_unseen_batch(tmp_path):
    """Stopped after 2 of the epoch's 6 batches (2 workers), resumed: the other 4, as the uninterrupted epoch has
    them, augmentations included; resumed with 1 worker: the same 4 batches, none repeated, none lost."""
    index, _ = write_folder_shards(tmp_path)
    whole = batches(StreamLoader(stream(index, augment=True), lambda: 1, 2))
    resumed_loader = StreamLoader(stream(index, augment=True), lambda: 0, 2)
    resumed_loader.resume_at = (1, 2, 2)
    resumed = batches(resumed_loader)
    assert [b["indices"].tolist() for b in resumed] == [b["indices"].tolist() for b in whole[2:]]
    assert all(torch.equal(a["thetas"], b["thetas"]) for a, b in zip(resumed, whole[2:], strict=True))
    other_loader = StreamLoader(stream(index, augment=True), lambda: 0, 1)
    other_loader.resume_at = (1, 2, 2)
    other = sorted(tuple(b["indices"].tolist()) for b in batches(other_loader))
    assert other == sorted(tuple(b["indices"].tolist()) for b in whole[2:])
    assert len(whole) == 6
    assert loader_order(6, 2) == [0, 3, 1, 4, 2, 5]


def add_bad_shard(folder: Path, good: int = 2) -> None:
    """A shard of `good` + 2 samples: good ones, then a corrupt image (`bad-1`) and an image without a label
    (`bad-2`), then one more good one; listed last in shards.json."""
    image = io.BytesIO()
    Image.fromarray(np.zeros((80, 80, 3), np.uint8)).save(image, "PNG")
    keys = [f"good-{number}" for number in range(good - 1)] + ["bad-1", "bad-2", f"good-{good - 1}"]
    with tarfile.open(folder / "bad.tar", "w") as archive:
        for key in keys:
            files = {"png": image.getvalue(), "cls": b"0"}
            if key == "bad-1":
                files = {"jpg": b"not a jpeg at all", "cls": b"1"}
            if key == "bad-2":
                files = {"png": image.getvalue()}
            for extension, data in files.items():
                info = tarfile.TarInfo(f"{key}.{extension}")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    record = json.loads((folder / "shards.json").read_text())
    record["splits"]["train"].append({"name": "bad.tar", "count": len(keys)})
    (folder / "shards.json").write_text(json.dumps(record))


def test_bad_samples_are_skipped_with_their_keys_or_stop_the_run_named(tmp_path):
    index, _ = write_folder_shards(tmp_path, shard_size=8)  # 24 + 4: one batch of 4 per shard, window of 1
    add_bad_shard(tmp_path / "shards")
    index = ShardIndex.read(str(tmp_path / "shards"))
    got = batches(StreamLoader(stream(index, skip_bad=True, window_batches=1), lambda: 0, 0))
    assert sum(len(batch["indices"]) for batch in got) == 26
    skipped = dict(pair for batch in got for pair in batch["skipped"])
    bad = str(tmp_path / "shards" / "bad.tar")
    assert set(skipped) == {f"{bad}#bad-1", f"{bad}#bad-2"}
    assert "does not decode" in skipped[f"{bad}#bad-1"]
    assert "no label" in skipped[f"{bad}#bad-2"]
    with pytest.raises(DataError, match=r"Bad sample .*bad\.tar#bad-[12]: (the image does not|no label).*=skip"):
        batches(StreamLoader(stream(index, window_batches=1), lambda: 0, 0))


def test_a_bad_sample_met_in_a_loader_worker_is_one_line_naming_it(tmp_path, capsys):
    """torch re-raises a worker's error with the worker's stack in its text: the user still reads one line, and the
    loader's workers stop with the run."""
    write_folder_shards(tmp_path, shard_size=8)
    add_bad_shard(tmp_path / "shards")
    index = ShardIndex.read(str(tmp_path / "shards"))
    before = set(multiprocessing.active_children())
    with pytest.raises(SystemExit) as stopped:
        run_or_exit(lambda _: batches(StreamLoader(stream(index, window_batches=1), lambda: 0, 2)), None)
    assert stopped.value.code == 1
    # The loader's workers stopped with the run, not left to the garbage collector (which then waits 5 s for each).
    assert set(multiprocessing.active_children()) <= before
    printed = capsys.readouterr().err.strip()
    assert re.fullmatch(r"Error: Bad sample .*bad\.tar#bad-[12]: .*data\.on_bad_image=skip.*", printed), printed


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_missing_or_unreachable_url_is_one_line_naming_it(tmp_path, http_server):
    url, _ = http_server
    with pytest.raises(DataError, match=rf"Cannot read {url}/nothing/shards.json: HTTP 404") as missing:
        ShardIndex.read(f"{url}/nothing")
    assert "data.source.url" in str(missing.value)
    assert "\n" not in str(missing.value)
    dead = f"http://127.0.0.1:{closed_port()}/shards"
    with pytest.raises(DataError, match=rf"Cannot reach {dead}/shards.json: .*tries in 1 s") as unreachable:
        ShardIndex.read(dead, retry_seconds=1)
    assert "\n" not in str(unreachable.value)
