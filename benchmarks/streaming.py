"""Streaming the training split over loopback HTTP (data=stream) against the decode-once cache (data=imagefolder,
data.cache=always) on the same images, the loader alone, in one run.

    python benchmarks/streaming.py                          # 1,024 JPEGs of 1024 x 768 px at 299, batch 64
    python benchmarks/streaming.py --workers 8 15 --images 4096 --size 400 300

Writes the JPEGs once (under --root), builds the data modules `python train.py` builds (data=imagefolder with
data.cache=always and none, data=stream), writes two sets of shards with the project's writer (the files' own
bytes, and the training images reduced to the 341 px shorter side a 299 px input is cut from, as
`shards.py train_shorter_side=341` writes them), serves them from a thread of this process on 127.0.0.1, and
times each training loader (pixels read or decoded, warps drawn, collated) over a few epochs, after one untimed
batch. The folder decoding at every access is the stream's own work without HTTP and tar: the gap between the
two is what streaming costs; the gap to the cache is what decoding at every epoch costs.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
import time
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from PIL import Image

from inception_tl.config.instantiate import instantiate
from inception_tl.config.schema import register_schemas
from inception_tl.data import ImageDataModule
from inception_tl.data.store import StorageSpec
from inception_tl.data.stream.writer import write_shards

CONFIG_DIR = Path(__file__).resolve().parents[1] / "conf"


def write_jpegs(root: Path, count: int, size: tuple[int, int]) -> None:
    """Smooth random colour fields (JPEG-sized like photos of that size), two classes, 16 for validation."""
    rng = np.random.default_rng(0)
    for index in range(count):
        for split in ("train", "val") if index < 16 else ("train",):
            folder = root / split / f"class{index % 2}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{index:05d}.jpg"
            if not path.exists():
                coarse = rng.integers(0, 256, (size[1] // 25, size[0] // 25, 3), dtype=np.uint8)
                Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC).save(path, quality=90)


def datamodule(*overrides: str) -> ImageDataModule:
    """The data module `python train.py OVERRIDES` builds."""
    register_schemas()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=list(overrides))
    module = instantiate(cfg.data, backbone=cfg.backbone.name)
    module.setup_data()
    return module


def images_per_second(module: ImageDataModule, epochs: int) -> float:
    """Training batches read per second over `epochs` epochs of a fresh loader each, after one untimed batch."""
    loader = iter(module.loader("train"))
    next(loader)  # workers started, the cache opened or the first shard requested
    start, images = time.perf_counter(), 0
    for epoch in range(epochs):
        batches = loader if epoch == 0 else module.loader("train")
        images += sum(len(batch["indices"]) for batch in batches)
    return images / (time.perf_counter() - start)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        """No line per request on the console."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("/tmp/inception_tl-bench-stream"))
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--size", type=int, nargs=2, default=[1024, 768], metavar=("WIDTH", "HEIGHT"))
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    root = args.root / f"{args.size[0]}x{args.size[1]}-{args.images}"
    folder = root / "images"
    write_jpegs(folder, args.images, tuple(args.size))
    common = [f"data.batch_size={args.batch_size}", f"paths.data_dir={root}"]
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"{args.images:,} JPEGs of {args.size[0]} x {args.size[1]} px, inception_v3 at 299 px, batch "
          f"{args.batch_size}, {args.epochs} epochs: images/s of the training loader alone, "
          f"{torch.get_num_threads()} CPU threads")
    print(f"{'loader':<52} {'workers':>7} {'images/s':>9} {'x cache':>8}")
    for workers in args.workers:
        folder_options = ("data=imagefolder", f"data.root={folder}", f"data.num_workers={workers}", *common)
        cached = datamodule(*folder_options, "data.cache=always")
        report = cached.setup_data()
        storage = StorageSpec.for_preprocessing(cached.preprocessing)
        for name, reduce_to in (("shards", None), ("shards-reduced", storage)):
            if not (root / name / "shards.json").exists():
                write_shards(report.samples, report.class_names, False, root / name, 256, 0, str(folder), reduce_to)
        loaders = {
            "folder, decode-once cache (data.cache=always)": cached,
            "folder, decoded at every access (data.cache=none)": datamodule(*folder_options, "data.cache=none"),
            "stream over HTTP, the files' own bytes": datamodule(
                "data=stream", f"data.source.url={url}/shards", f"data.num_workers={workers}", *common
            ),
            f"stream over HTTP, train_shorter_side={storage.shorter_side}": datamodule(
                "data=stream", f"data.source.url={url}/shards-reduced", f"data.num_workers={workers}", *common
            ),
        }
        cache_rate = None
        for name, module in loaders.items():
            rate = images_per_second(module, args.epochs)
            cache_rate = cache_rate or rate
            print(f"{name:<52} {workers:>7} {rate:>9.0f} {rate / cache_rate:>7.2f}x", flush=True)
    server.shutdown()


if __name__ == "__main__":
    main()
