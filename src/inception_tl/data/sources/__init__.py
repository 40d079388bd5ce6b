"""Dataset sources: each makes sure an ImageFolder tree (train/, optional val/ and test/), or a folder of images
with its labels.csv (ShapeTags), exists at a root.

A source is any object with `prepare(root: Path) -> None`; Hydra builds it from `data.source`.
"""

from inception_tl.data.sources.cifar10 import Cifar10
from inception_tl.data.sources.horse_human import HorseHuman
from inception_tl.data.sources.huggingface import HuggingFaceDataset
from inception_tl.data.sources.imagefolder import ImageFolder
from inception_tl.data.sources.shapes import Shapes, ShapeTags

__all__ = ["Cifar10", "HorseHuman", "HuggingFaceDataset", "ImageFolder", "ShapeTags", "Shapes"]
