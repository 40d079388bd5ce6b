"""shards.py: the data of any data option (after its scan, split and duplicate check) written as WebDataset tar
shards and their index, so that moving from a folder to streaming is one command."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from inception_tl.config.instantiate import instantiate
from inception_tl.console import console
from inception_tl.data import ImageDataModule
from inception_tl.data.store import StorageSpec
from inception_tl.data.stream.index import INDEX_NAME
from inception_tl.data.stream.writer import write_shards
from inception_tl.errors import ConfigError, require_extra
from inception_tl.tasks.summary import print_data_report


def write_data_as_shards(cfg: DictConfig) -> Path:
    require_extra("webdataset", "stream", "shards.py")
    out = Path(cfg.out).expanduser()
    if out.exists() and not (out / INDEX_NAME).is_file() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"out={out} exists and holds no shards.json: choose an empty or new folder.")
    if cfg.shard_size < 1:
        raise ConfigError(f"shard_size={cfg.shard_size}: give the samples per shard (1000 is typical).")
    if cfg.train_shorter_side is not None and cfg.train_shorter_side < 1:
        raise ConfigError(f"train_shorter_side={cfg.train_shorter_side}: give a side in pixels (341 for Inception at "
                          "299 px), or null to keep the files as they are.")
    if cfg.data._target_.endswith("StreamDataModule"):
        raise ConfigError("shards.py writes shards from images on disk: data=stream is already shards.")
    datamodule: ImageDataModule = instantiate(cfg.data, backbone=cfg.backbone.name)
    report = datamodule.setup_data()
    report.storage = ""  # how training would store the pixels: not what this command does
    print_data_report(report)
    reduce_to = None
    if cfg.train_shorter_side is not None:
        reduce_to = StorageSpec(cfg.train_shorter_side, datamodule.preprocessing["interpolation"])
    index = write_shards(
        report.samples,
        report.class_names,
        datamodule.multi_label,
        out,
        cfg.shard_size,
        cfg.seed,
        str(report.root),
        reduce_to,
    )
    shards = ", ".join(f"{split} {len(entries)}" for split, entries in index.splits.items())
    images = sum(index.total(split) for split in index.splits)
    reduced = f", training images reduced to a {cfg.train_shorter_side} px shorter side" if reduce_to else ""
    console.print(f"Wrote {images:,} images into shards ({shards}{reduced}) and {INDEX_NAME} in [bold]{out}[/bold]")
    console.print(f"Train on them: python train.py data=stream data.source.url={out}")
    return out
