"""The data path as Lightning sees it: a thin adapter that wires the stages in the order an image meets them.

    sources/  where images come from (a download, an archive, a generated set, the user's folder)
    inspect/  what is checked before training: listing (class folders or a CSV), scan, splits, duplicates
              -> the data report
    store/    how pixels are stored: decoded once into a memory-mapped cache, or decoded at every access
    worker/   per image in a loader worker: stored pixels, and the training warp or the evaluation crop box
    device/   per batch where the model runs: warp or evaluation crop, normalisation

Every batch reaches the model as `(inputs, labels, indices)`: indices into the split, so evaluation can
name each image.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from lightning.pytorch.trainer.states import TrainerFn
from torch.utils.data import DataLoader

from inception_tl.data.device import BatchTransform
from inception_tl.data.inspect import DataReport, Listing, TableColumns, inspect_images, list_folder, list_table
from inception_tl.data.inspect.listing import Sample
from inception_tl.data.inspect.splits import split_strata
from inception_tl.data.options import (
    BadImagePolicy,
    BalanceMode,
    CacheMode,
    CropMode,
    DuplicatePolicy,
    VerifyMode,
    WorkerMode,
    check_option_ranges,
    choice,
)
from inception_tl.data.preprocessing import resize_size, resolve_preprocessing
from inception_tl.data.store import CachedImages, ImageStore, StorageSpec, open_store
from inception_tl.data.worker import (
    Augment,
    FeatureSplit,
    ResumableShuffleSampler,
    SplitImages,
    collate_features,
    collate_images,
    make_loader,
)
from inception_tl.errors import ConfigError, DataError


class ImageDataModule(L.LightningDataModule):
    """Built from the `data` config (`DataSchema` holds every option's default and meaning) and the backbone,
    whose timm data config gives the preprocessing; `preprocessing` instead, when evaluating a trained model
    (its checkpoint's). `setup_data` returns the data report.
    """

    def __init__(
        self,
        *,
        source: Any,
        root: str | None,
        csv: str | None,
        images: str | None,
        columns: Mapping[str, str],
        multi_label: bool,
        label_separator: str,
        image_size: int | None,
        crop_mode: CropMode | str | None,
        batch_size: int,
        num_workers: int,
        worker_mode: WorkerMode | str,
        val_split: float,
        seed: int,
        folds: int,
        fold: int,
        verify: VerifyMode | str,
        on_bad_image: BadImagePolicy | str,
        balance: BalanceMode | str,
        on_duplicate: DuplicatePolicy | str,
        near_duplicate_bits: int,
        cache: CacheMode | str,
        cache_dir: str,
        cache_max_gb: float,
        augment: Mapping[str, Any],
        backbone: str,
        preprocessing: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        check_option_ranges(batch_size, num_workers, val_split, cache_max_gb, near_duplicate_bits)
        table = getattr(source, "labels_table", None)  # a source that writes its labels as a CSV (data=hf multi-label)
        if csv is None and table and root is not None:
            csv = str(Path(root) / table)
        self.check_location(source, root, csv, multi_label)
        self.source = source
        self.csv = Path(csv).expanduser() if csv is not None else None
        # A table's relative paths start at data.images (default: the table's folder).
        location = images or (self.csv.parent if self.csv else root)
        self.root = Path(location or ".").expanduser()
        self.columns = TableColumns(**columns)
        self.multi_label, self.label_separator = multi_label, label_separator
        self.preprocessing = (
            dict(preprocessing)
            if preprocessing is not None
            else resolve_preprocessing(
                backbone, image_size, crop_mode and choice(CropMode, crop_mode, "data.crop_mode")
            )
        )
        self.batch_size, self.num_workers, self.val_split, self.seed = batch_size, num_workers, val_split, seed
        self.folds, self.fold = folds, fold
        self.worker_mode = choice(WorkerMode, worker_mode, "data.worker_mode")
        self.verify = choice(VerifyMode, verify, "data.verify")
        self.on_bad_image = choice(BadImagePolicy, on_bad_image, "data.on_bad_image")
        self.balance = choice(BalanceMode, balance, "data.balance")
        self.on_duplicate = choice(DuplicatePolicy, on_duplicate, "data.on_duplicate")
        self.near_duplicate_bits = near_duplicate_bits
        self.cache = choice(CacheMode, cache, "data.cache")
        self.cache_dir, self.cache_max_gb = Path(cache_dir).expanduser(), cache_max_gb
        self.augment = Augment.from_mapping(augment)
        self.device_transform = BatchTransform.for_preprocessing(self.preprocessing)
        self._report: DataReport | None = None
        self._store: ImageStore | None = None
        self._positions: dict[str, int] = {}
        self._features: dict[str, torch.Tensor] = {}
        self._resume_position: tuple[int, int] | None = None
        self._threads: ThreadPoolExecutor | None = None

    @staticmethod
    def check_location(source: Any, root: str | None, csv: str | None, multi_label: bool) -> None:
        """Where the images are is set, and can hold what the options ask for."""
        if csv is None and source is None:
            raise ConfigError(
                "data=csv needs data.csv=PATH: the CSV with a row per image (path, label, optional split), and "
                "data.images=DIR where its relative paths start."
            )
        if csv is None and root is None:
            raise ConfigError(
                "data.root is not set: point it at your image folder (train/<class>/<images>), or give labels in a "
                "CSV with data=csv data.csv=labels.csv data.images=DIR."
            )
        if csv is None and multi_label:
            raise ConfigError(
                "data.multi_label=true needs several labels per image, which class folders cannot give: list the "
                "images and their labels in a CSV (data=csv data.csv=labels.csv data.multi_label=true)."
            )

    def prepare_data(self) -> None:
        if self.source is not None:  # data=csv: nothing to fetch
            self.source.prepare(self.root)

    def listing(self) -> tuple[Listing, str]:
        """What the data says it holds (class folders, or the CSV's rows), and a hint to end its errors with."""
        if self.csv is None:
            return list_folder(self.root), ""
        if not self.csv.is_file():
            raise DataError(f"data.csv={self.csv} does not exist: set it to the CSV of image paths and labels.")
        if not self.root.is_dir():  # said once, rather than as every row's missing file
            raise DataError(
                f"data.images={self.root} does not exist: set it to the folder the CSV's relative paths start at "
                f"(by default the CSV's own folder, {self.csv.parent})."
            )
        listing = list_table(self.csv, self.root, self.columns, self.multi_label, self.label_separator)
        return listing, f"Relative paths in {self.csv} start at data.images={self.root}."

    def setup_data(self) -> DataReport:
        """Everything before the first batch, once: the source prepared (sources are idempotent and lock against
        concurrent preparation), the folder scanned and split, duplicates checked, the pixels stored. Returns
        the data report; a DataError lists every data problem before any model is built."""
        if self._report is None:
            self.prepare_data()
            workers = max(self.num_workers, 1)
            listing, hint = self.listing()
            report = inspect_images(
                listing,
                verify=self.verify,
                on_bad_image=self.on_bad_image,
                on_duplicate=self.on_duplicate,
                near_duplicate_bits=self.near_duplicate_bits,
                val_split=self.val_split,
                seed=self.seed,
                folds=self.folds,
                fold=self.fold,
                balance=self.balance,
                workers=workers,
                hint=hint,
            )
            paths = list(dict.fromkeys(path for samples in report.samples.values() for path, _ in samples))
            self._positions = {path: position for position, path in enumerate(paths)}
            spec = StorageSpec.for_preprocessing(self.preprocessing)
            self._store, report.storage = open_store(
                paths, spec, self.cache, self.cache_dir, self.cache_max_gb, workers, report.scan.image_sizes
            )
            report.crop_mode = self.preprocessing.get("crop_mode", "center")
            self._report = report
        return self._report

    def setup(self, stage: str | None = None) -> None:
        self.setup_data()

    @property
    def report(self) -> DataReport:
        """The data report of `setup_data`: reading a property never downloads, scans or builds the cache, so a
        reader must have set the data up (train.py and eval.py do first, Lightning through `setup`)."""
        if self._report is None:
            raise RuntimeError("The data is not set up yet: call ImageDataModule.setup_data() first.")
        return self._report

    @property
    def samples(self) -> dict[str, list[Sample]]:
        return self.report.samples

    @property
    def class_names(self) -> list[str]:
        return self.report.class_names

    @property
    def has_test(self) -> bool:
        return "test" in self.report.samples

    @property
    def image_size(self) -> int:
        return self.preprocessing["input_size"][-1]

    @property
    def augments_training(self) -> bool:
        return self.augment.enabled

    def dataset(self, split: str) -> SplitImages | FeatureSplit:
        """The split as the loader serves it: training images with their warps (unless augmentation is off),
        the others with their evaluation crop boxes, or the split's cached features while they are in use.
        Multi-label: each label is the image's multi-hot row (a 0/1 per class)."""
        labels = [self.target(label) for _, label in self.samples[split]]
        if split in self._features:
            return FeatureSplit(self._features[split], labels)
        assert self._store is not None
        positions = [self._positions[path] for path, _ in self.samples[split]]
        augment = self.augment if split == "train" and self.augment.enabled else None
        return SplitImages(self._store, positions, labels, self.image_size, resize_size(self.preprocessing), augment)

    def target(self, label: int | tuple[int, ...]) -> int | list[int]:
        """What the loader batches for a label: the class index, or (multi-label) the multi-hot row."""
        if not isinstance(label, tuple):
            return label
        row = [0] * len(self.class_names)
        for index in label:
            row[index] = 1
        return row

    @property
    def uses_threads(self) -> bool:
        """Whether the workers are threads: `auto` chooses them for images read from the decoded-image cache
        (see `worker/threads.py` for why), processes when every image is decoded again."""
        if self.worker_mode is WorkerMode.auto:
            return isinstance(self._store, CachedImages)
        return self.worker_mode is WorkerMode.threads

    def worker_threads(self) -> ThreadPoolExecutor:
        """The threads that read batches when the workers are threads, started once for every loader."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.num_workers, thread_name_prefix="inception_tl-loader")
        return self._threads

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_threads": None}  # a pool does not travel to other processes

    def use_features(self, features: Mapping[str, torch.Tensor]) -> None:
        """Serve these splits as pooled features instead of images (empty: images again)."""
        self._features = dict(features)

    def sample_weights(self, split: str) -> list[float] | None:
        """With balance=weighted, 1 / (images of its class) per image: every class is drawn equally often
        (multi-label: the class is the image's rarest label, as for the validation split)."""
        if self.balance is not BalanceMode.weighted:
            return None
        labels = split_strata([label for _, label in self.samples[split]])
        sizes = Counter(labels)
        return [1.0 / sizes[label] for label in labels]

    def loader(self, split: str, whole: bool = False, resume_at: tuple[int, int] | None = None) -> DataLoader:
        """The split's DataLoader: `train` shuffled and resumable, the others in order (sharded under DDP).

        `whole`: every image of the split in order, in every process (for computing features once).
        `resume_at`: (epoch, batches done) where a resumed training run continues.
        """
        dataset = self.dataset(split)
        training = split == "train" and not whole
        features = isinstance(dataset, FeatureSplit)
        sampler = None
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if training:
            sampler = ResumableShuffleSampler(dataset, seed=self.seed, weights=self.sample_weights(split))
            if resume_at is not None:
                epoch, batches_done = resume_at
                sampler.resume_at(epoch, batches_done * self.batch_size)
        elif distributed and torch.distributed.get_world_size() > 1 and not whole:
            # Lightning's default DistributedSampler pads an uneven split by repeating images, which would
            # score some of them twice; this one splits without repeats (torchmetrics gathers uneven counts).
            sampler = UnrepeatedDistributedSampler(dataset, shuffle=False)
        if features:  # in memory: nothing to load
            return make_loader(dataset, sampler, self.batch_size, training, 0, collate_features)
        threads = self.worker_threads() if self.uses_threads and self.num_workers > 0 else None
        return make_loader(dataset, sampler, self.batch_size, training, self.num_workers, collate_images, threads)

    def on_after_batch_transfer(self, batch: dict[str, torch.Tensor], dataloader_idx: int) -> tuple[torch.Tensor, ...]:
        """On the model's device: (inputs: finished images or cached features, labels, indices)."""
        inputs = batch["features"] if "features" in batch else self.device_transform(batch)
        return inputs, batch["labels"], batch["indices"]

    def skipped_during_training(self) -> dict[str, str]:
        """Bad samples met while training (name -> why): none for a folder, whose scan decides before training."""
        return {}

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
        # A restored checkpoint's position applies to the first training loader only: later epochs start afresh.
        position, self._resume_position = self._resume_position, None
        return self.loader("train", resume_at=position)

    def val_dataloader(self) -> DataLoader:
        return self.loader("val")

    def test_dataloader(self) -> DataLoader:
        return self.loader("test")
