"""Streaming the training split over loopback HTTP (data=stream) against the decode-once cache (data=imagefolder,
data.cache=always) on the same images, the loader alone, in one run.

    python benchmarks/streaming.py                          # 1,024 JPEGs of 400 x 300 px at 299, batch 64
    python benchmarks/streaming.py --workers 2 8 --images 4096

Writes the JPEGs once (under --root), builds the cache through `ImageDataModule`, writes the shards with the
project's writer, serves them from a thread of this process on 127.0.0.1, and times one epoch of each training
loader (pixels read or decoded, warps drawn, collated), after one untimed batch. Prints images/s for each.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from inception_tl.data import ImageDataModule
from inception_tl.data.sources import ImageFolder
from inception_tl.data.stream import StreamDataModule, StreamSource
from inception_tl.data.stream.writer import write_shards
from tests.helpers import data_options


def write_jpegs(root: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    for index in range(count):
        for split in ("train", "val") if index < 16 else ("train",):
            folder = root / split / f"class{index % 2}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{index:05d}.jpg"
            if not path.exists():
                coarse = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
                Image.fromarray(coarse).resize((400, 300), Image.Resampling.BICUBIC).save(path, quality=90)


def images_per_second(loader) -> float:
    batches = iter(loader)
    next(batches)  # workers started, first shard opened
    start, images = time.perf_counter(), 0
    for batch in batches:
        images += len(batch["indices"])
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("/tmp/inception_tl-bench-stream"))
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    folder = args.root / "images"
    write_jpegs(folder, args.images)
    options = {"batch_size": args.batch_size, "cache": "always", "cache_dir": str(args.root / "decoded")}
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(args.root))
    )
    server.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/shards"
    for workers in args.workers:
        cached = ImageDataModule(source=ImageFolder(), root=str(folder), **data_options(num_workers=workers, **options))
        report = cached.setup_data()
        if not (args.root / "shards" / "shards.json").exists():
            write_shards(report.samples, report.class_names, False, args.root / "shards", 256, 0, str(folder))
        streamed = StreamDataModule(
            source=StreamSource(url, 30.0, 8), root=str(args.root / "stream"), **data_options(num_workers=workers,
                                                                                              **options)
        )
        streamed.setup_data()
        cache_rate = images_per_second(cached.loader("train"))
        stream_rate = images_per_second(streamed.loader("train"))
        print(
            f"{len(report.samples['train'])} JPEGs 400x300 at 299 px, batch {args.batch_size}, {workers} workers: "
            f"decode-once cache {cache_rate:7.0f} img/s ({(cached.uses_threads and 'threads') or 'processes'}), "
            f"stream over loopback HTTP {stream_rate:7.0f} img/s (processes): {stream_rate / cache_rate:.2f}x"
        )
    server.shutdown()


if __name__ == "__main__":
    main()
