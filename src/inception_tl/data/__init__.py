"""Data: one pipeline, a folder per stage in the order an image meets them (see `datamodule.py`):
sources -> inspect -> store -> worker -> device, wired for Lightning by `ImageDataModule`."""

from inception_tl.data.datamodule import ImageDataModule
from inception_tl.data.inspect import DataReport

__all__ = ["DataReport", "ImageDataModule"]
