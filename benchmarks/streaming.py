"""Streaming the training split over loopback HTTP (data=stream) against the decode-once cache (data=imagefolder,
data.cache=always) on the same images, the loader alone, in one run.

    python benchmarks/streaming.py                          # 1,024 JPEGs of 400 x 300 px at 299, batch 64
    python benchmarks/streaming.py --workers 2 8 --images 4096

Writes the JPEGs once (under --root), builds the data modules `python train.py` builds (data=imagefolder with
data.cache=always and none, data=stream), writes the shards with the project's writer, serves them from a thread
of this process on 127.0.0.1, and times each training loader (pixels read or decoded, warps drawn, collated) over
a few epochs, after one untimed batch. The folder decoding at every access is the stream's own work without the
HTTP and the tar: the gap between the two is what streaming costs.
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
from inception_tl.data.stream.writer import write_shards

CONFIG_DIR = Path(__file__).resolve().parents[1] / "conf"


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


def datamodule(*overrides: str) -> ImageDataModule:
    """The data module `python train.py OVERRIDES` builds."""
    register_schemas()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=list(overrides))
    return instantiate(cfg.data, backbone=cfg.backbone.name)


def images_per_second(datamodule: ImageDataModule, epochs: int) -> float:
    """Training batches read per second over `epochs` epochs of a fresh loader each, after one untimed batch."""
    loader = iter(datamodule.loader("train"))
    next(loader)  # workers started, the cache opened or the first shard requested
    start, images = time.perf_counter(), 0
    for epoch in range(epochs):
        batches = loader if epoch == 0 else datamodule.loader("train")
        images += sum(len(batch["indices"]) for batch in batches)
    return images / (time.perf_counter() - start)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        """No line per request on the console."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("/tmp/inception_tl-bench-stream"))
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    folder = args.root / "images"
    write_jpegs(folder, args.images)
    common = [f"data.batch_size={args.batch_size}", f"paths.data_dir={args.root}"]
    handler = functools.partial(QuietHandler, directory=str(args.root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/shards"
    print(f"JPEGs of 400 x 300 px at 299 px (stored at their size), batch {args.batch_size}, {args.epochs} epochs; "
          f"images/s of the training loader alone ({torch.get_num_threads()} CPU threads)")
    print(f"{'workers':>7} {'cache (decoded once)':>21} {'folder, decoded each time':>26} "
          f"{'stream (loopback HTTP)':>23} {'stream/cache':>12} {'stream/folder decoding':>22}")
    for workers in args.workers:
        folder_options = ("data=imagefolder", f"data.root={folder}", f"data.num_workers={workers}", *common)
        cached = datamodule(*folder_options, "data.cache=always")
        report = cached.setup_data()
        if not (args.root / "shards" / "shards.json").exists():
            write_shards(report.samples, report.class_names, False, args.root / "shards", 256, 0, str(folder))
        decoding = datamodule(*folder_options, "data.cache=none")
        streamed = datamodule("data=stream", f"data.source.url={url}", f"data.num_workers={workers}", *common)
        decoding.setup_data()
        streamed.setup_data()
        rates = [images_per_second(module, args.epochs) for module in (cached, decoding, streamed)]
        print(f"{workers:>7} {rates[0]:>21.0f} {rates[1]:>26.0f} {rates[2]:>23.0f} {rates[2] / rates[0]:>11.2f}x"
              f" {rates[2] / rates[1]:>21.2f}x")
    server.shutdown()


if __name__ == "__main__":
    main()
