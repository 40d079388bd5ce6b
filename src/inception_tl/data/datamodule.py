"""One data path for every dataset: ImageFolder tree -> split -> decoded once -> uint8 batches -> device.

Loader workers hand over uint8 pixels (and each training image's warp); `on_after_batch_transfer`
normalises and warps them where the model runs. Every batch reaches the model as
`(inputs, labels, indices)`: indices into the split, so evaluation can name each image.
"""

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

from inception_tl.data.augment import Augment, collate_images
from inception_tl.data.batch_transform import BatchTransform
from inception_tl.data.cache import (
    CachedImages,
    FileImages,
    StorageSpec,
    build_cache,
    cache_key,
    cache_refusal,
    check_cache_options,
    estimated_bytes,
)
from inception_tl.data.datasets import FeatureSplit, ImageStore, SplitImages, collate_features
from inception_tl.data.duplicates import (
    DuplicateReport,
    check_duplicate_options,
    evaluation_copies,
    find_duplicates,
    raise_for_duplicates,
)
from inception_tl.data.sampling import ResumableShuffleSampler
from inception_tl.data.scan import FolderScan, Sample, check_scan_options, raise_for_problems, scan_folder
from inception_tl.data.splits import stratified_split
from inception_tl.data.transforms import eval_crop_transform, resize_size, resolve_preprocessing
from inception_tl.errors import ConfigError

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
    """Prepares `root` through its source, then splits, decodes once and serves it.

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
        on_duplicate: str = "warn",
        near_duplicate_bits: int = 8,
        cache: str = "auto",
        cache_dir: str = "~/.cache/inception_tl/decoded",
        cache_max_gb: float = 64.0,
    ) -> None:
        super().__init__()
        check_loader_options(batch_size, num_workers, val_split, balance)
        check_scan_options(verify, on_bad_image)
        check_duplicate_options(on_duplicate, near_duplicate_bits)
        check_cache_options(cache, cache_max_gb)
        self.source = source
        self.root = Path(root).expanduser()
        self.preprocessing = resolve_preprocessing(backbone, image_size)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_split = val_split
        self.seed = seed
        self.augment = Augment.from_mapping(augment)
        self.verify = verify
        self.on_bad_image = on_bad_image
        self.balance = balance
        self.on_duplicate, self.near_duplicate_bits = on_duplicate, near_duplicate_bits
        self.duplicates: DuplicateReport | None = None  # set by setup(), unless on_duplicate=off
        self.cache, self.cache_dir, self.cache_max_gb = cache, Path(cache_dir).expanduser(), cache_max_gb
        self.samples: dict[str, list[Sample]] = {}
        self.cache_note = ""  # what was decided about the decoded-image cache, for the run's summary
        self._scan: FolderScan | None = None
        self._store: ImageStore | None = None
        self._positions: dict[str, int] = {}
        self._features: dict[str, torch.Tensor] = {}
        self.batch_transform: BatchTransform | None = None
        self._resume_position: tuple[int, int] | None = None

    def prepare_data(self) -> None:
        self.source.prepare(self.root)

    @property
    def scan(self) -> FolderScan:
        """The checked folder, scanned once: a DataError lists every problem before any training starts."""
        if self._scan is None:
            fingerprints = self.on_duplicate != "off"
            scan = scan_folder(self.root, self.verify, workers=max(self.num_workers, 1), fingerprints=fingerprints)
            raise_for_problems(scan, self.on_bad_image)
            self._scan = scan
        return self._scan

    @property
    def class_names(self) -> list[str]:
        return self.scan.class_names

    @property
    def has_test(self) -> bool:
        return "test" in self.scan.samples

    @property
    def image_size(self) -> int:
        return self.preprocessing["input_size"][-1]

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
        if self.on_duplicate != "off":
            self._check_duplicates()
        self._store = self._image_store()
        config = self.preprocessing  # final from here on (eval.py sets the checkpoint's before setup)
        self.batch_transform = BatchTransform(config["mean"], config["std"], self.image_size, config["interpolation"])

    def _check_duplicates(self) -> None:
        """Find copies across and within the final splits; stop, drop the evaluation copies or just report."""
        split_paths = {split: [path for path, _ in samples] for split, samples in self.samples.items()}
        report = find_duplicates(split_paths, self.scan.fingerprints, self.near_duplicate_bits)
        if report.across and self.on_duplicate == "error":
            raise_for_duplicates(report)
        if self.on_duplicate == "drop":
            copies = evaluation_copies(report)
            for split in ("val", "test"):
                if split in self.samples:
                    kept = [sample for sample in self.samples[split] if sample[0] not in copies]
                    report.dropped += [path for path, _ in self.samples[split] if path in copies]
                    self.samples[split] = kept
        self.duplicates = report

    def _image_store(self) -> ImageStore:
        """The decoded-image cache when `cache` allows it (built now if needed), else decoding from files."""
        paths = list(dict.fromkeys(path for samples in self.samples.values() for path, _ in samples))
        self._positions = {path: position for position, path in enumerate(paths)}
        spec = StorageSpec(resize_size(self.preprocessing), self.preprocessing["interpolation"])
        size = estimated_bytes([self.scan.image_sizes[path] for path in paths], spec)
        refusal = cache_refusal(self.cache, size, self.cache_dir, self.cache_max_gb)
        if refusal is not None:
            if self.cache == "always":
                raise ConfigError(f"data.cache=always: cannot cache the decoded images: {refusal}.")
            self.cache_note = f"Decoding images at every epoch (no decoded-image cache: {refusal})."
            return FileImages(paths, spec)
        directory = self.cache_dir / cache_key(paths, spec)  # stats every file: only when caching
        built = build_cache(paths, spec, directory, workers=max(self.num_workers, 1))
        state = "built" if built else "reused"
        self.cache_note = (
            f"Decoded-image cache {state}: {len(paths):,} images at most {spec.shorter_side} px on the shorter "
            f"side, {size / 2**20:,.0f} MiB in {directory} (data.cache=none to decode at every epoch instead)."
        )
        return CachedImages(directory)

    def dataset(self, split: str) -> SplitImages | FeatureSplit:
        """The split as the loader serves it: augmented uint8 images for `train` (unless augmentation is off),
        eval crops for the others, or the split's cached features while they are in use."""
        labels = [label for _, label in self.samples[split]]
        if split in self._features:
            return FeatureSplit(self._features[split], labels)
        assert self._store is not None, "setup() first"
        positions = [self._positions[path] for path, _ in self.samples[split]]
        augment = self.augment if split == "train" and self.augment.enabled else None
        crop = eval_crop_transform(self.preprocessing)
        return SplitImages(self._store, positions, labels, self.image_size, crop, augment)

    def use_features(self, features: Mapping[str, torch.Tensor]) -> None:
        """Serve these splits as pooled features instead of images (empty: images again)."""
        self._features = dict(features)

    def sample_weights(self, split: str) -> list[float] | None:
        """With balance=weighted, 1 / (images of its class) per image: every class is drawn equally often."""
        if self.balance != "weighted":
            return None
        labels = [label for _, label in self.samples[split]]
        sizes = Counter(labels)
        return [1.0 / sizes[label] for label in labels]

    def loader(self, split: str, whole: bool = False) -> DataLoader:
        """The split's DataLoader: `train` shuffled and resumable, the others in order (sharded under DDP).

        `whole`: every image of the split in order, in every process (for computing features once).
        """
        dataset = self.dataset(split)
        training = split == "train" and not whole
        features = isinstance(dataset, FeatureSplit)
        sampler = None
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if training:
            sampler = ResumableShuffleSampler(dataset, seed=self.seed, weights=self.sample_weights(split))
            if self._resume_position is not None:
                epoch, batches_done = self._resume_position
                sampler.resume_at(epoch, batches_done * self.batch_size)
                self._resume_position = None
        elif distributed and torch.distributed.get_world_size() > 1 and not whole:
            # Lightning's default DistributedSampler pads an uneven split by repeating images, which would
            # score some of them twice; this one splits without repeats (torchmetrics gathers uneven counts).
            sampler = UnrepeatedDistributedSampler(dataset, shuffle=False)
        workers = 0 if features else self.num_workers  # features are in memory: nothing to load
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            # A last training batch of one image breaks BatchNorm; it is reshuffled in next epoch anyway.
            drop_last=training and len(dataset) > self.batch_size,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=torch.cuda.is_available(),
            collate_fn=collate_features if features else collate_images,
        )

    def on_after_batch_transfer(self, batch: dict[str, torch.Tensor], dataloader_idx: int) -> tuple[torch.Tensor, ...]:
        """On the model's device: (normalised, warped images or cached features, labels, indices)."""
        inputs = batch["features"] if "features" in batch else self.batch_transform(batch)
        return inputs, batch["labels"], batch["indices"]

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
        return self.loader("train")

    def val_dataloader(self) -> DataLoader:
        return self.loader("val")

    def test_dataloader(self) -> DataLoader:
        return self.loader("test")
