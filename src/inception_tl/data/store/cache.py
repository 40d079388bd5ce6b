"""Decode once: every image of a dataset decoded into one memory-mapped file of uint8 pixels.

Decoding a PNG or JPEG and resizing it costs far more CPU than the GPU needs to train on it; a run of
many epochs repeats that work every epoch. Here each image is decoded once (upright RGB, alpha over
white, as `images.load_rgb`) at its storage size (the shorter side brought down to the eval resize
size, never up: CIFAR-10 stays 32 px) into `pixels.u8`, with `index.npy` giving each image's offset
and shape. Loader workers and DDP ranks map the same file read-only, so the pages are shared, not copied.

The folder's name is a hash of everything the pixels depend on (each file's path, size and
modification time; the storage size; the interpolation): a changed file, image size or backbone
preprocessing gives another name, hence a new build. A build writes into a `.partial-*` folder that
is renamed into place only when complete, under a file lock: two runs (or the ranks of one DDP run)
starting together build it once, and a build killed half way leaves nothing a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from filelock import FileLock
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from tqdm.auto import tqdm

from inception_tl.data.options import CacheMode
from inception_tl.data.preprocessing import resize_size
from inception_tl.data.staging import staged_folder
from inception_tl.data.store.decode import decode_for_storage, stored_shape
from inception_tl.errors import ConfigError, DataError

FORMAT_VERSION = 1
PIXELS, INDEX, META = "pixels.u8", "index.npy", "meta.json"
# Decoded in chunks, so memory holds a few hundred images however many the dataset has.
CHUNK = 256


@dataclass(frozen=True)
class StorageSpec:
    """How images are stored: the shorter side at most `shorter_side`, reduced with `interpolation` (`center`);
    or the whole image in a square of that side (timm's `squash` and `border` crop modes, for a centre crop of
    `crop` pixels, the border `fill`ed)."""

    shorter_side: int
    interpolation: str
    crop_mode: str = "center"
    crop: int = 0
    fill: tuple[int, ...] = (0, 0, 0)

    @classmethod
    def for_preprocessing(cls, preprocessing: Mapping[str, Any]) -> StorageSpec:
        """The storage of a model's preprocessing (timm's data config; `crop_mode` center when it has none)."""
        return cls(
            resize_size(preprocessing),
            preprocessing["interpolation"],
            preprocessing.get("crop_mode", "center"),
            preprocessing["input_size"][-1],
            tuple(round(255 * value) for value in preprocessing["mean"]),  # timm's border fill
        )

    def decode(self, path: str | BinaryIO) -> np.ndarray:
        return decode_for_storage(path, self.shorter_side, self.interpolation, self.crop_mode, self.crop, self.fill)

    def key(self) -> list[Any]:
        """What the stored pixels depend on (a centre-mode cache keeps the key it had before crop modes)."""
        extra = [self.crop_mode, self.crop, list(self.fill)] if self.crop_mode != "center" else []
        return [self.shorter_side, self.interpolation, *extra]


class UncachedImages:
    """Images decoded from their files at every access (`data.cache=none`): no disk used, CPU spent per epoch."""

    def __init__(self, paths: Sequence[str], spec: StorageSpec) -> None:
        self.paths, self.spec = list(paths), spec

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, position: int) -> np.ndarray:
        return self.spec.decode(self.paths[position])


class CachedImages:
    """Images read from a built cache folder: an (H, W, 3) uint8 view into the memory-mapped pixels."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.index = np.load(directory / INDEX)  # rows: offset, height, width
        self._pixels: np.memmap | None = None

    def __len__(self) -> int:
        return len(self.index)

    def read(self, position: int) -> np.ndarray:
        if self._pixels is None:  # mapped lazily in each process (loader workers map the same pages)
            self._pixels = np.memmap(self.directory / PIXELS, dtype=np.uint8, mode="r")
        offset, height, width = (int(value) for value in self.index[position])
        return self._pixels[offset : offset + height * width * 3].reshape(height, width, 3)

    def __getstate__(self) -> dict[str, Any]:
        # A pickled memmap would travel as a full copy of the pixels (spawned workers): send the path instead.
        return {**self.__dict__, "_pixels": None}


def cache_key(paths: Sequence[str], spec: StorageSpec) -> str:
    """A hash of what the stored pixels depend on; any change to it gives another cache folder."""
    digest = hashlib.sha256(json.dumps([FORMAT_VERSION, *spec.key()]).encode())
    for path in paths:
        stat = os.stat(path)
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def estimated_bytes(sizes: Sequence[tuple[int, int]], spec: StorageSpec) -> int:
    """The size of the pixels file for images of these (width, height) header sizes."""
    shapes = (stored_shape(height, width, spec.shorter_side, spec.crop_mode) for width, height in sizes)
    return sum(3 * h * w for h, w in shapes)


def is_complete(directory: Path) -> bool:
    """A finished cache: its three files there and the pixels file exactly as long as its index says."""
    try:
        meta = json.loads((directory / META).read_text())
        return meta["version"] == FORMAT_VERSION and (directory / PIXELS).stat().st_size == meta["bytes"]
    except (OSError, ValueError, KeyError):
        return False


def _decoded(paths: Sequence[str], spec: StorageSpec, workers: int) -> Iterator[np.ndarray]:
    """Every image decoded at its storage size, in order, on a thread pool (PIL releases the GIL)."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for start in range(0, len(paths), CHUNK):
            yield from pool.map(spec.decode, paths[start : start + CHUNK])


def _write(paths: Sequence[str], spec: StorageSpec, staging: Path, workers: int) -> None:
    index = np.zeros((len(paths), 3), dtype=np.int64)
    offset = 0
    quiet = True if rank_zero_only.rank != 0 else None  # one bar, from the first process only
    bar = tqdm(_decoded(paths, spec, workers), total=len(paths), desc="Decoding images once", unit="img", disable=quiet)
    with open(staging / PIXELS, "wb") as handle:
        for position, pixels in enumerate(bar):
            handle.write(pixels.tobytes())
            index[position] = (offset, pixels.shape[0], pixels.shape[1])
            offset += pixels.size
        handle.flush()
        os.fsync(handle.fileno())
    np.save(staging / INDEX, index)
    meta = {"version": FORMAT_VERSION, "bytes": offset, "count": len(paths), "spec": spec.__dict__}
    (staging / META).write_text(json.dumps(meta))


def build_cache(paths: Sequence[str], spec: StorageSpec, directory: Path, workers: int) -> bool:
    """Make sure `directory` holds the cache of `paths`; returns whether this call built it.

    Under a lock beside it: whoever comes second finds it complete and only opens it.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory) + ".lock"):
        if is_complete(directory):
            return False
        # An incomplete folder there (a damaged disk, a hand-made copy) is never trusted: the build replaces it.
        with staged_folder(directory, hidden=False) as staging:
            try:
                _write(paths, spec, staging, workers)
            except DataError as error:
                raise DataError(
                    f"{error}\nThe data scan (data.verify=header) did not catch this file. Run with data.verify=full "
                    "to list every image that does not decode, and data.on_bad_image=skip to train without them."
                ) from error
    return True


def readable_size(size: float) -> str:
    """A byte count in the unit that shows it: 512 B, 3.4 MiB, 12.0 GiB."""
    if size < 1024:
        return f"{size:.0f} B"
    for unit in ("KiB", "MiB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f} {unit}"
    return f"{size / 1024:.1f} GiB"


def cache_refusal(mode: CacheMode, size: int, directory: Path, max_gb: float) -> str | None:
    """Why the cache will not be built (None: build it). `auto` keeps to the size budget and a free-disk margin."""
    if mode is CacheMode.none:
        return "data.cache=none"
    existing = next(folder for folder in (directory, *directory.parents) if folder.exists())
    disk = shutil.disk_usage(existing)
    # Leave the disk no fuller than 90% (and at least 1 GiB free): a full disk breaks checkpoints and logs.
    margin = max(disk.total // 10, 2**30)
    if mode is CacheMode.always:
        return (
            None
            if size <= disk.free
            else f"it needs {readable_size(size)} and {directory} has {readable_size(disk.free)} free"
        )
    if size > max_gb * 2**30:
        return f"it would take {readable_size(size)}, over data.cache_max_gb={max_gb:g}"
    if size + margin > disk.free:
        return (
            f"it would take {readable_size(size)} and leave less than {readable_size(margin)} free on the disk "
            f"of {directory}"
        )
    return None


def open_store(
    paths: Sequence[str],
    spec: StorageSpec,
    mode: CacheMode,
    cache_dir: Path,
    max_gb: float,
    workers: int,
    sizes: Mapping[str, tuple[int, int]],
) -> tuple[CachedImages | UncachedImages, str]:
    """The images of `paths` by position, and what was decided, in words: the decoded-image cache when `mode`
    allows it (built now if needed), else decoding from the files at every access.

    `sizes`: each path's (width, height) from the scan, to estimate the cache's size before building it.
    """
    size = estimated_bytes([sizes[path] for path in paths], spec)
    refusal = cache_refusal(mode, size, cache_dir, max_gb)
    if refusal is not None:
        if mode is CacheMode.always:
            raise ConfigError(f"data.cache=always: cannot cache the decoded images: {refusal}.")
        return UncachedImages(paths, spec), f"Decoding images at every epoch (no decoded-image cache: {refusal})."
    directory = cache_dir / cache_key(paths, spec)  # stats every file: only when caching
    state = "built" if build_cache(paths, spec, directory, workers=workers) else "reused"
    note = (
        f"Decoded-image cache {state}: {len(paths):,} images at most {spec.shorter_side} px on the shorter side, "
        f"{readable_size(size)} in {directory} (data.cache=none to decode at every epoch instead)."
    )
    return CachedImages(directory), note
