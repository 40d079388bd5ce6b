"""Shards from any data this project reads (a folder, a CSV, a Hugging Face data set, a download): the final
splits after the scan, the split and the duplicate check, each image as its file's own bytes (not re-encoded),
in WebDataset's layout, with the index (`shards.json`) that streaming reads first.

Training images may be stored reduced instead (`train_shorter_side`): a stream decodes every training image at
every epoch, and decoding costs grow with the pixels (1024 x 768 JPEGs stream at 90 images/s in one process here,
the same reduced to the 341 px a 299 px input is cut from at 641: benchmarks/streaming.py). Validation and test
keep their bytes: they are copied and decoded once."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from inception_tl.data.inspect.listing import Sample
from inception_tl.data.inspect.report import class_counts
from inception_tl.data.staging import staged_folder
from inception_tl.data.store import StorageSpec
from inception_tl.data.stream.index import ShardEntry, ShardIndex

# A reduced JPEG: quality 95, colour at full resolution (4:4:4); its artefacts stay well under what training
# augmentation changes.
JPEG_QUALITY = 95


def image_file(path: str, reduce_to: StorageSpec | None) -> tuple[str, bytes]:
    """(extension, bytes): the file's own, or, when its shorter side is over `reduce_to`'s, the image reduced as
    training would store it (upright RGB, the shorter side brought down with its interpolation) and re-encoded:
    a JPEG as a JPEG, anything else as a PNG (lossless)."""
    extension = Path(path).suffix.lower().lstrip(".") or "jpg"
    extension = "jpg" if extension == "jpeg" else extension
    if reduce_to is not None:
        with Image.open(path) as image:
            too_large = min(image.size) > reduce_to.shorter_side
        if too_large:
            pixels = Image.fromarray(reduce_to.decode(path))
            buffer = io.BytesIO()
            if extension == "jpg":
                pixels.save(buffer, "JPEG", quality=JPEG_QUALITY, subsampling=0)
            else:
                extension = "png"
                pixels.save(buffer, "PNG")
            return extension, buffer.getvalue()
    return extension, Path(path).read_bytes()


def sample_files(
    key: str, path: str, label: int | tuple[int, ...], multi_label: bool, reduce_to: StorageSpec | None = None
) -> dict[str, bytes]:
    """A sample's files: the image under its extension, the label (`.cls`: the class index; for multi-label the
    indices separated by commas) and `.json` (the labels and the file it came from)."""
    extension, data = image_file(path, reduce_to)
    labels = list(label) if isinstance(label, tuple) else [label]
    record = {"labels" if multi_label else "label": labels if multi_label else labels[0], "source": path}
    return {
        f"{key}.{extension}": data,
        f"{key}.cls": ",".join(map(str, labels)).encode(),
        f"{key}.json": json.dumps(record).encode(),
    }


def write_tar(path: Path, members: Sequence[dict[str, bytes]]) -> None:
    """A plain tar (what WebDataset and `tar` read), members in the order given, times and owners fixed so the
    same images write the same bytes."""
    with tarfile.open(path, "w") as archive:
        for files in members:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode, info.uname, info.gname = len(data), 0, 0o444, "", ""
                archive.addfile(info, io.BytesIO(data))


def write_shards(
    samples: Mapping[str, Sequence[Sample]],
    class_names: Sequence[str],
    multi_label: bool,
    out: Path,
    shard_size: int,
    seed: int,
    written_from: str,
    train_reduce_to: StorageSpec | None = None,
) -> ShardIndex:
    """`out/<split>-<n>.tar` of at most `shard_size` samples each and `out/shards.json`, written beside `out` and
    moved into place when complete. The training samples are shuffled (by `seed`) before they are cut into shards,
    so every shard holds every class; the others keep their order. `train_reduce_to`: the training images larger
    than its shorter side are stored reduced to it."""
    splits: dict[str, list[ShardEntry]] = {}
    with staged_folder(out) as staging:
        for split, pairs in samples.items():
            order = np.random.default_rng(seed).permutation(len(pairs)) if split == "train" else range(len(pairs))
            ordered = [pairs[index] for index in order]
            entries = []
            for number, start in enumerate(range(0, len(ordered), shard_size)):
                chunk = ordered[start : start + shard_size]
                name = f"{split}-{number:06d}.tar"
                reduce_to = train_reduce_to if split == "train" else None
                members = [
                    sample_files(f"{split}-{start + offset:08d}", path, label, multi_label, reduce_to)
                    for offset, (path, label) in enumerate(chunk)
                ]
                write_tar(staging / name, members)
                entries.append(ShardEntry(name, len(chunk)))
            splits[split] = entries
        index = ShardIndex(
            list(class_names),
            multi_label,
            splits,
            class_counts(samples, class_names),
            written_from,
            train_reduce_to and train_reduce_to.shorter_side,
        )
        index.write(staging)
    index.location = str(out)
    return index
