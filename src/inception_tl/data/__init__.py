"""Data: sources that materialise ImageFolder trees, splitting, transforms and the DataModule."""

from inception_tl.data.datamodule import ImageDataModule

__all__ = ["ImageDataModule"]
