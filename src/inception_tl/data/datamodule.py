"""One data path for every dataset: ImageFolder tree -> split -> transforms -> DataLoader."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from lightning.pytorch.trainer.states import TrainerFn
from torch.utils.data import DataLoader

from inception_tl.data.images import LabelledImages
from inception_tl.data.sampling import ResumableShuffleSampler
from inception_tl.data.scan import FolderScan, Sample, check_scan_options, raise_for_problems, scan_folder
from inception_tl.data.splits import stratified_split
from inception_tl.data.transforms import eval_transform, resolve_preprocessing, train_transform
from inception_tl.errors import ConfigError

DEFAULT_AUGMENT = {"crop_scale": (0.5, 1.0), "hflip": 0.5, "rotation": 15, "shift": 0.1, "shear": 5, "zoom": 0.1}


BALANCE_MODES = ("none", "weighted")


def check_loader_options(batch_size: int, num_workers: int, val_split: float, balance: str = "none") -> None:
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
    if balance not in BALANCE_MODES:
        raise ConfigError(
            f"data.balance={balance!r}: choose none (every image once per epoch) or weighted (draw training "
            "images with probability inversely proportional to their class size)."
        )


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
        verify: str = "header",
        on_bad_image: str = "error",
        balance: str = "none",
    ) -> None:
        super().__init__()
        check_loader_options(batch_size, num_workers, val_split, balance)
        check_scan_options(verify, on_bad_image)
        self.source = source
        self.root = Path(root).expanduser()
        self.preprocessing = resolve_preprocessing(backbone, image_size)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_split = val_split
        self.seed = seed
        self.augment = {**DEFAULT_AUGMENT, **(augment or {})}
        self.verify = verify
        self.on_bad_image = on_bad_image
        self.balance = balance
        self.samples: dict[str, list[Sample]] = {}
        self._scan: FolderScan | None = None
        self._resume_position: tuple[int, int] | None = None

    def prepare_data(self) -> None:
        self.source.prepare(self.root)

    @property
    def scan(self) -> FolderScan:
        """The checked folder, scanned once: a DataError lists every problem before any training starts."""
        if self._scan is None:
            scan = scan_folder(self.root, self.verify, workers=max(self.num_workers, 1))
            raise_for_problems(scan, self.on_bad_image)
            self._scan = scan
        return self._scan

    @property
    def class_names(self) -> list[str]:
        return self.scan.class_names

    @property
    def has_test(self) -> bool:
        return "test" in self.scan.samples

    def setup(self, stage: str | None = None) -> None:
        if self.samples:
            return
        train = self.scan.samples["train"]
        if "val" in self.scan.samples:
            val = self.scan.samples["val"]
        else:
            kept, held_out = stratified_split([label for _, label in train], self.val_split, self.seed)
            train, val = [train[i] for i in kept], [train[i] for i in held_out]
        self.samples = {"train": train, "val": val}
        if self.has_test:
            self.samples["test"] = self.scan.samples["test"]

    def dataset(self, split: str) -> LabelledImages:
        """The split's samples with its transform: augmentation for `train` only."""
        if split == "train":
            transform = train_transform(self.preprocessing, self.augment)
        else:
            transform = eval_transform(self.preprocessing)
        return LabelledImages(self.samples[split], transform)

    def sample_weights(self, split: str) -> list[float] | None:
        """With balance=weighted, 1 / (images of its class) per image: every class is drawn equally often."""
        if self.balance != "weighted":
            return None
        labels = [label for _, label in self.samples[split]]
        sizes = Counter(labels)
        return [1.0 / sizes[label] for label in labels]

    def _loader(self, split: str) -> DataLoader:
        dataset = self.dataset(split)
        training = split == "train"
        sampler = None
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if training:
            sampler = ResumableShuffleSampler(dataset, seed=self.seed, weights=self.sample_weights(split))
            if self._resume_position is not None:
                epoch, batches_done = self._resume_position
                sampler.resume_at(epoch, batches_done * self.batch_size)
                self._resume_position = None
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

    def state_dict(self) -> dict[str, int]:
        """Where training stands: the epoch under way and its batches done (saved in every checkpoint).

        Lightning restores no position for a plain DataLoader: resumed mid-epoch, it would replay the
        epoch's first batches in place of its remaining ones; and it builds the resumed run's first
        iterator (worker processes fetch ahead at once) before setting the sampler's epoch. With this
        state the resumed loader starts at the next unseen batch of the right epoch.
        """
        trainer = self.trainer
        if trainer is None or trainer.state.fn != TrainerFn.FITTING:
            return {}
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        if done >= trainer.num_training_batches:  # saved at the epoch's end: the next one starts afresh
            return {"epoch": trainer.current_epoch + 1, "batches_done": 0}
        return {"epoch": trainer.current_epoch, "batches_done": done}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        if state_dict:
            self._resume_position = (state_dict["epoch"], state_dict["batches_done"])

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
