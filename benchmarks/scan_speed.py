"""Time the pre-training folder scan (`data.verify=header` and `full`) and the duplicate check on a folder.

    python benchmarks/scan_speed.py                          # 6,000 generated 32 px PNGs (CIFAR-like)
    python benchmarks/scan_speed.py --count 2000 --size 300  # horse-or-human-like
    python benchmarks/scan_speed.py --count 1000 --size 2000 --format jpg   # photo-sized JPEGs
    python benchmarks/scan_speed.py --root /path/to/photos   # your own folder, read-only

The scan runs before every training run (on every DDP process), so its cost per image decides
whether it is noticeable next to the training itself. Prints images per second for each mode and
each worker count; the second pass of a mode reads files the OS already caches, as a real second run
would.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from inception_tl.data.inspect.duplicates import find_duplicates
from inception_tl.data.inspect.scan import scan_folder
from inception_tl.data.options import VerifyMode


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="an existing train/<class>/... folder (nothing is written)")
    parser.add_argument("--count", type=int, default=6000, help="images to generate when --root is not given")
    parser.add_argument("--size", type=int, default=32, help="side of the generated images, in pixels")
    parser.add_argument(
        "--format", choices=["png", "jpg"], default="png", help="generated files: noise PNGs or JPEG photos"
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    return parser.parse_args()


def generate(root: Path, count: int, size: int, format: str) -> None:
    """`count` images in ten classes under root/train (and a sixth of them under root/test): random-noise
    PNGs (the hardest to compress), or photo-like JPEGs (smooth colour fields with grain, 4:3)."""
    rng = np.random.default_rng(0)
    for index in range(count):
        split = "test" if index % 6 == 0 else "train"
        folder = root / split / f"class{index % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        if format == "png":
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{index:06d}.png")
            continue
        coarse = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
        photo = np.asarray(coarse.resize((size * 4 // 3, size), Image.Resampling.BICUBIC), dtype=np.int16)
        grain = rng.integers(-12, 13, photo.shape, dtype=np.int16)
        Image.fromarray((photo + grain).clip(0, 255).astype(np.uint8)).save(folder / f"{index:06d}.jpg", quality=90)


def time_duplicate_check(root: Path, workers: int) -> None:
    """The duplicate check's two costs: fingerprinting during the scan, then comparing every pair."""
    started = time.perf_counter()
    plain = scan_folder(root, VerifyMode.header, workers=workers, fingerprints=False)
    header_seconds = time.perf_counter() - started
    started = time.perf_counter()
    scan = scan_folder(root, VerifyMode.header, workers=workers, fingerprints=True)
    scan_seconds = time.perf_counter() - started
    split_paths = {split: [path for path, _ in samples] for split, samples in scan.samples.items()}
    started = time.perf_counter()
    report = find_duplicates(split_paths, scan.fingerprints, near_duplicate_bits=8, workers=workers)
    compare_seconds = time.perf_counter() - started
    images = len(scan.fingerprints)
    print(
        f"  duplicates  workers={workers}  {images} images: scan {header_seconds:.2f} s without fingerprints, "
        f"{scan_seconds:.2f} s with; comparing every pair {compare_seconds:.2f} s "
        f"({len(report.across)} pairs across splits)"
    )
    assert len(plain.samples) == len(scan.samples)


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.root
        if root is None:
            root = Path(scratch)
            started = time.perf_counter()
            generate(root, args.count, args.size, args.format)
            print(f"generated {args.count} {args.size} px {args.format} in {time.perf_counter() - started:.1f} s")
        print(f"{root}: scanning on {os.cpu_count()} CPU cores")
        for verify in ("header", "full"):
            for workers in args.workers:
                started = time.perf_counter()
                scan = scan_folder(root, VerifyMode[verify], workers=workers, fingerprints=False)
                seconds = time.perf_counter() - started
                images = sum(len(samples) for samples in scan.samples.values()) + len(scan.bad_images)
                print(
                    f"  verify={verify:<6}  workers={workers}  {images} images in {seconds:6.2f} s"
                    f"  {images / seconds:8.0f} images/s  ({len(scan.bad_images)} unreadable)"
                )
        for workers in args.workers:
            time_duplicate_check(root, workers)


if __name__ == "__main__":
    main()
