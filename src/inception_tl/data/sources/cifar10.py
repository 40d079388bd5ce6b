"""CIFAR-10 through torchvision (which checks its own MD5s), written once as an ImageFolder tree."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock
from rich.progress import track
from torchvision.datasets import CIFAR10

from inception_tl.data.staging import staged_folder
from inception_tl.errors import DownloadError


class Cifar10:
    """Download CIFAR-10 into `root/raw` and write its images as PNGs under `root/train` and `root/test`.

    Writing the images out lets CIFAR-10 follow the same path as every other dataset
    (folder -> split -> transforms -> DataLoader), so there is one loader to trust.
    """

    def __init__(self, *, download: bool) -> None:
        self.download = download

    def prepare(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(root / ".prepare.lock")):
            for split in ("train", "test"):
                if not (root / split).is_dir():
                    self._write_split(self._load(root / "raw", train=split == "train"), root / split)

    def _load(self, raw: Path, train: bool) -> CIFAR10:
        try:
            return CIFAR10(str(raw), train=train, download=self.download)
        except Exception as error:  # torchvision raises URLError, RuntimeError or OSError here
            raise DownloadError(
                f"Could not obtain CIFAR-10 in {raw}: {error}\n"
                f"Put cifar-10-python.tar.gz (from https://www.cs.toronto.edu/~kriz/cifar.html) into {raw} "
                f"and run again; torchvision verifies and extracts it."
            ) from error

    @staticmethod
    def _write_split(dataset: CIFAR10, destination: Path) -> None:
        # Written beside its final name and renamed when complete: a half-written split is never used.
        with staged_folder(destination) as staging:
            for name in dataset.classes:
                (staging / name).mkdir()
            description = f"Writing CIFAR-10 {destination.name} images"
            for index in track(range(len(dataset)), description=description, transient=True):
                image, label = dataset[index]
                image.save(staging / dataset.classes[label] / f"{index:05d}.png")
