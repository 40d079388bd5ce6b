"""Host to device for cached images: loader worker processes against threads in the training process (the
project's choice for cached images, `data.worker_mode=auto`), which save the hop between processes.

    python benchmarks/loader_hops.py                          # 1,024 PNGs of 300 px at 299, batch 128
    python benchmarks/loader_hops.py --workers 2 4 8 --batches 40

Generates the PNGs once (under --root), builds the decoded-image cache through `ImageDataModule`, then times
the training loader's batches (stored pixels sliced, warps drawn, collated) with `data.worker_mode=processes`
(torch's DataLoader with N worker processes, each batch written to shared memory and mapped back) and
`threads` (N threads in this process reading each batch's items), and with no workers. On a CUDA machine
each batch is also pinned by the DataLoader and copied to the GPU. Prints images/s for each.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inception_tl.data import ImageDataModule
from inception_tl.data.sources import ImageFolder


def write_pngs(root: Path, count: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for index in range(count):
        folder = root / "train" / f"class{index % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{index:05d}.png"
        if not path.exists():
            coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC).save(path)


def endless(epoch: Callable[[], Iterable[dict[str, torch.Tensor]]]) -> Iterator[dict[str, torch.Tensor]]:
    while True:
        yield from epoch()


def rate(batches: Iterator[dict[str, torch.Tensor]], count: int, device: torch.device) -> float:
    """images/s over `count` batches after one untimed one (workers starting), each pinned and copied to the
    GPU on a CUDA machine."""
    next(batches)
    start, images = time.perf_counter(), 0
    for batch in itertools.islice(batches, count):
        if device.type == "cuda":
            batch["images"].pin_memory().to(device, non_blocking=True)  # already pinned by the DataLoader's thread
        images += len(batch["labels"])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/inception_tl-loader-hops"))
    parser.add_argument("--count", type=int, default=1024)
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--image-size", type=int, default=299)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batches", type=int, default=7)
    args = parser.parse_args()
    write_pngs(args.root / "images", args.count, args.size)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"{args.count} PNGs of {args.size} px at {args.image_size}, batch {args.batch}, cached; on {device}")
    for workers in [*args.workers, 0]:
        rates = {}
        for mode in ("processes", "threads") if workers else ("processes",):
            datamodule = ImageDataModule(
                source=ImageFolder(),
                root=str(args.root / "images"),
                image_size=args.image_size,
                batch_size=args.batch,
                num_workers=workers,
                worker_mode=mode,
                val_split=0.1,
                seed=0,
                verify="header",
                on_bad_image="error",
                balance="none",
                on_duplicate="off",
                near_duplicate_bits=8,
                cache="always",
                cache_dir=str(args.root / "decoded"),
                cache_max_gb=64,
                augment={},
                backbone="inception_v4",
            )
            datamodule.setup_data()
            loader = datamodule.loader("train")
            rates[mode] = rate(endless(lambda loader=loader: loader), args.batches, device)
        print(f"  {workers} worker(s): " + "   ".join(f"{mode} {value:8.1f} images/s" for mode, value in rates.items()))


if __name__ == "__main__":
    main()
