"""The decoded-image cache: the pixels of a fresh decode, rebuilt when anything they depend on changes,
built once by processes starting together, and never trusted when a build was killed half way."""

import multiprocessing
import os
import signal
import time

import numpy as np
import pytest
from PIL import Image

from inception_tl.data.options import CacheMode
from inception_tl.data.store import cache
from inception_tl.data.store.cache import (
    CachedImages,
    StorageSpec,
    UncachedImages,
    build_cache,
    cache_key,
    cache_refusal,
    readable_size,
)
from inception_tl.data.store.decode import decode_for_storage
from tests.helpers import make_datamodule, write_image_tree

SPEC = StorageSpec(shorter_side=85, interpolation="bicubic")


@pytest.fixture
def mixed_tree(tmp_path):
    """Images above and below the storage size, wide and tall, with transparency and in greyscale."""
    root = write_image_tree(tmp_path / "images", {"train": {"a": 3, "b": 3}}, size=120)
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(root / "train" / "a" / "small.png")
    Image.fromarray(rng.integers(0, 256, (200, 90, 3), dtype=np.uint8)).save(root / "train" / "a" / "tall.jpg")
    Image.fromarray(rng.integers(0, 256, (100, 300, 4), dtype=np.uint8), "RGBA").save(root / "train" / "b" / "wide.png")
    Image.fromarray(rng.integers(0, 256, (95, 95), dtype=np.uint8), "L").save(root / "train" / "b" / "grey.png")
    return root


def image_paths(root):
    return sorted(str(p) for p in (root / "train").rglob("*.*"))


def test_cached_pixels_equal_a_fresh_decode_at_the_storage_size(mixed_tree, tmp_path):
    paths = image_paths(mixed_tree)
    directory = tmp_path / "cache" / cache_key(paths, SPEC)
    assert build_cache(paths, SPEC, directory, workers=2)
    cached, files = CachedImages(directory), UncachedImages(paths, SPEC)
    shapes = set()
    for position, path in enumerate(paths):
        stored = cached.read(position)
        assert np.array_equal(stored, files.read(position)), path
        assert stored.dtype == np.uint8
        shapes.add(stored.shape)
    assert (40, 60, 3) in shapes  # smaller than the storage size: kept, never upscaled
    assert (85, 85, 3) in shapes  # 120 px reduced to 85
    assert (188, 85, 3) in shapes  # tall: the shorter side to 85, the ratio kept as torchvision's Resize does
    assert (85, 255, 3) in shapes


def test_a_changed_file_image_size_or_backbone_gives_a_new_cache_and_an_unchanged_one_is_reused(image_tree):
    root = image_tree({"train": {"a": 4, "b": 4}})
    # always: what is tested is the cache's key, not auto's free-disk margin (which a full CI disk would trip).
    first = make_datamodule(root, val_split=0.25, cache="always")
    assert "cache built" in first.setup_data().storage
    again = make_datamodule(root, val_split=0.25, cache="always")
    assert "cache reused" in again.setup_data().storage
    assert again._store.directory == first._store.directory

    other_size = make_datamodule(root, val_split=0.25, image_size=96, cache="always")
    other_backbone = make_datamodule(root, val_split=0.25, backbone="inception_resnet_v2", cache="always")
    changed = root / "train" / "a" / "a-000.png"
    Image.new("RGB", (80, 80), (255, 0, 0)).save(changed)
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    after_edit = make_datamodule(root, val_split=0.25, cache="always")
    directories = {dm._store.directory for dm in (first, other_size, other_backbone, after_edit)}
    assert len(directories) == 4
    assert all("cache built" in dm.setup_data().storage for dm in (other_size, other_backbone, after_edit))
    position = after_edit._positions[str(changed)]
    assert (after_edit._store.read(position) == [255, 0, 0]).all()  # the new content, not the old


def _build_in_child(paths, directory, barrier, results):
    barrier.wait()  # both processes reach build_cache together
    results.put(build_cache(paths, SPEC, directory, workers=1))


def test_two_processes_starting_together_build_the_cache_once(mixed_tree, tmp_path):
    paths = image_paths(mixed_tree)
    directory = tmp_path / "cache" / cache_key(paths, SPEC)
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    children = [context.Process(target=_build_in_child, args=(paths, directory, barrier, results)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
    assert sorted(results.get(timeout=5) for _ in children) == [False, True]  # one built, one reused
    cached = CachedImages(directory)
    assert all(np.array_equal(cached.read(i), decode_for_storage(p, 85, "bicubic")) for i, p in enumerate(paths))


def build_slowly(paths: list[str], directory) -> None:
    """In a forked child: builds the cache at half a second an image, to be killed half way."""
    decode = cache.decode_for_storage

    def slow(*args):
        time.sleep(0.5)
        return decode(*args)

    cache.decode_for_storage = slow  # in the child only
    build_cache(paths, SPEC, directory, workers=1)


def test_a_build_killed_half_way_leaves_nothing_that_a_later_run_trusts(mixed_tree, tmp_path):
    paths = image_paths(mixed_tree)
    directory = tmp_path / "cache" / cache_key(paths, SPEC)
    child = multiprocessing.get_context("fork").Process(target=build_slowly, args=(paths, directory))
    child.start()
    deadline = time.monotonic() + 60
    staged = []
    while time.monotonic() < deadline and not any(p.stat().st_size for p in staged):
        staged = list(directory.parent.glob(f"{directory.name}.partial-*/pixels.u8"))
        time.sleep(0.05)
    assert staged, "the child never started writing"
    os.kill(child.pid, signal.SIGKILL)  # mid-build: some images written, others not
    child.join()
    assert not directory.exists()  # nothing under the name a run looks for

    assert build_cache(paths, SPEC, directory, workers=2)  # rebuilt, not reused
    assert not list(directory.parent.glob("*.partial-*"))  # the killed build's debris is gone
    cached = CachedImages(directory)
    assert all(np.array_equal(cached.read(i), decode_for_storage(p, 85, "bicubic")) for i, p in enumerate(paths))


def test_the_size_budget_and_none_decode_from_the_files_and_say_why(image_tree):
    root = image_tree({"train": {"a": 4, "b": 4}})
    over_budget = make_datamodule(root, val_split=0.25, cache_max_gb=0)
    assert isinstance(over_budget._store, UncachedImages)
    assert "over data.cache_max_gb=0" in over_budget.setup_data().storage
    off = make_datamodule(root, val_split=0.25, cache="none")
    assert isinstance(off._store, UncachedImages)
    assert "data.cache=none" in off.setup_data().storage
    assert not (root.parent / f"{root.name}-decoded").exists()


def test_sizes_in_the_cache_messages_are_in_a_unit_that_shows_them(tmp_path):
    """A small dataset's cache is a few MiB: "0.0 GiB" would say nothing."""
    assert [readable_size(size) for size in (512, 3.5 * 2**20, 12 * 2**30)] == ["512 B", "3.5 MiB", "12.0 GiB"]
    refusal = cache_refusal(CacheMode.auto, 3 * 2**20, tmp_path, max_gb=0.001)
    assert refusal == "it would take 3.0 MiB, over data.cache_max_gb=0.001"
