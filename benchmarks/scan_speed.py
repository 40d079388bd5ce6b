"""Time the pre-training folder scan (`data.verify=header` and `full`) on a folder of images.

    python benchmarks/scan_speed.py                          # 6,000 generated 32 px PNGs (CIFAR-like)
    python benchmarks/scan_speed.py --count 2000 --size 300  # horse-or-human-like
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

from inception_tl.data.scan import scan_folder


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="an existing train/<class>/... folder (nothing is written)")
    parser.add_argument("--count", type=int, default=6000, help="images to generate when --root is not given")
    parser.add_argument("--size", type=int, default=32, help="side of the generated images, in pixels")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    return parser.parse_args()


def generate(root: Path, count: int, size: int) -> None:
    """`count` random-noise PNGs (the hardest to compress) in ten classes under root/train."""
    rng = np.random.default_rng(0)
    for index in range(count):
        folder = root / "train" / f"class{index % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{index:06d}.png")


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.root
        if root is None:
            root = Path(scratch)
            started = time.perf_counter()
            generate(root, args.count, args.size)
            print(f"generated {args.count} {args.size} px PNGs in {time.perf_counter() - started:.1f} s")
        print(f"{root}: scanning on {os.cpu_count()} CPU cores")
        for verify in ("header", "full"):
            for workers in args.workers:
                started = time.perf_counter()
                scan = scan_folder(root, verify=verify, workers=workers)
                seconds = time.perf_counter() - started
                images = sum(len(samples) for samples in scan.samples.values()) + len(scan.bad_images)
                print(
                    f"  verify={verify:<6}  workers={workers}  {images} images in {seconds:6.2f} s"
                    f"  {images / seconds:8.0f} images/s  ({len(scan.bad_images)} unreadable)"
                )


if __name__ == "__main__":
    main()
