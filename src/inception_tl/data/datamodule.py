"""One data path for every dataset: ImageFolder tree -> split -> transforms -> DataLoader."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader

from inception_tl.data.folder import Sample, find_class_names, list_samples
from inception_tl.data.images import LabelledImages
from inception_tl.data.sampling import ResumableShuffleSampler
from inception_tl.data.splits import stratified_split
from inception_tl.data.transforms import eval_transform, resolve_preprocessing, train_transform
from inception_tl.errors import ConfigError

DEFAULT_AUGMENT = {"crop_scale": (0.5, 1.0), "hflip": 0.5, "rotation": 15, "shift": 0.1, "shear": 5, "zoom": 0.1}


def check_loader_options(batch_size: int, num_workers: int, val_split: float) -> None:
    """Fail at start-up, before any data is read, on values that would fail (or mislead) much later."""
    if batch_size < 2:
        raise ConfigError(
            f"data.batch_size={batch_size} is too small: BatchNorm needs at least 2 images per training batch "
            "(per device under DDP). Use data.batch_size=8 or more."
        )
    if num_workers < 0:
        raise ConfigError(f"data.num_workers={num_workers} must be 0 (load in the main process) or more.")
    if not 0 < val_split < 1:
        raise ConfigError(f"data.val_split={val_split} must be between 0 and 1 (exclusive), e.g. 0.2.")


class ImageDataModule(L.LightningDataModule):
    """Prepares `root` through its source, then splits and serves it.

    `prepare_data` may be called before the Trainer exists (the model needs the class names), and
    again by Lightning: sources are idempotent and lock against concurrent preparation.
    """

    def __init__(
        self,
        source: Any,
        root: str,
        backbone: str,
        image_size: int | None = None,
        batch_size: int = 32,
        num_workers: int = 4,
        val_split: float = 0.2,
        seed: int = 0,
        augment: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        check_loader_options(batch_size, num_workers, val_split)
        self.source = source
        self.root = Path(root).expanduser()
        self.preprocessing = resolve_preprocessing(backbone, image_size)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_split = val_split
        self.seed = seed
        self.augment = {**DEFAULT_AUGMENT, **(augment or {})}
        self.samples: dict[str, list[Sample]] = {}

    def prepare_data(self) -> None:
        self.source.prepare(self.root)

    @property
    def class_names(self) -> list[str]:
        return find_class_names(self.root / "train")

    @property
    def has_test(self) -> bool:
        return (self.root / "test").is_dir()

    def setup(self, stage: str | None = None) -> None:
        if self.samples:
            return
        classes = self.class_names
        train = list_samples(self.root / "train", classes)
        if (self.root / "val").is_dir():
            val = list_samples(self.root / "val", classes)
        else:
            kept, held_out = stratified_split([label for _, label in train], self.val_split, self.seed)
            train, val = [train[i] for i in kept], [train[i] for i in held_out]
        self.samples = {"train": train, "val": val}
        if self.has_test:
            self.samples["test"] = list_samples(self.root / "test", classes)

    def dataset(self, split: str) -> LabelledImages:
        """The split's samples with its transform: augmentation for `train` only."""
        if split == "train":
            transform = train_transform(self.preprocessing, self.augment)
        else:
            transform = eval_transform(self.preprocessing)
        return LabelledImages(self.samples[split], transform)

    def _loader(self, split: str) -> DataLoader:
        dataset = self.dataset(split)
        training = split == "train"
        sampler = None
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if training:
            sampler = ResumableShuffleSampler(dataset, seed=self.seed)
        elif distributed and torch.distributed.get_world_size() > 1:
            # Lightning's default DistributedSampler pads an uneven split by repeating images, which would
            # score some of them twice; this one splits without repeats (torchmetrics gathers uneven counts).
            sampler = UnrepeatedDistributedSampler(dataset, shuffle=False)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            # A last training batch of one image breaks BatchNorm; it is reshuffled in next epoch anyway.
            drop_last=training and len(dataset) > self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
