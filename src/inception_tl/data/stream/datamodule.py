"""data=stream: the training split streamed from shards (a local folder, http(s), s3://, gs://), never copied
whole; validation and test copied once and evaluated exactly as a folder's (`evaluation_copy.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader

from inception_tl.data.datamodule import ImageDataModule
from inception_tl.data.inspect import DataReport, Listing
from inception_tl.data.inspect.report import class_counts
from inception_tl.data.options import BadImagePolicy, BalanceMode
from inception_tl.data.preprocessing import resize_size
from inception_tl.data.store import StorageSpec
from inception_tl.data.stream.dataset import ShardStream, StreamLoader, StreamSpec
from inception_tl.data.stream.evaluation_copy import EvaluationCopy, copy_folder
from inception_tl.data.stream.index import ShardIndex
from inception_tl.errors import ConfigError, DataError, require_extra


@dataclass(frozen=True)
class StreamSource:
    """Where the shards are and how they are read (`StreamSourceSchema` holds the options' meanings)."""

    url: str | None
    retry_seconds: float
    window_batches: int


class StreamedSplit(Sequence):
    """The training split as the report counts it: its size is known from the index, its samples are read in the
    epoch's order from the shards, never by position."""

    def __init__(self, count: int, location: str) -> None:
        self.count, self.location = count, location

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: Any) -> Any:
        raise ConfigError(
            f"The training images of data=stream are read in order from the shards at {self.location}, not one by "
            "one: this needs the images as a folder (data=imagefolder, data=csv or data=hf)."
        )


class StreamReport(DataReport):
    """The data report of a stream: counts of the training split from the index, the rest as for a folder."""

    index: ShardIndex
    stored_side: int  # the shorter side this run stores images at (the decode-once size)

    @classmethod
    def of(
        cls, report: DataReport, index: ShardIndex, skipped: list[tuple[str, str]], stored_side: int
    ) -> StreamReport:
        streamed = cls(**{name: getattr(report, name) for name in report.__dataclass_fields__})
        streamed.index, streamed.skipped_labels, streamed.stored_side = index, skipped, stored_side
        streamed.samples = {"train": StreamedSplit(index.total("train"), index.location), **{
            split: pairs for split, pairs in report.samples.items() if split != "train"}}
        return streamed

    @property
    def aspect(self) -> None:
        return None  # the training images' shapes are not known before they stream

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        evaluation = {split: pairs for split, pairs in self.samples.items() if split != "train"}
        return {"train": dict(self.index.counts["train"]), **class_counts(evaluation, self.class_names)}

    @property
    def notes(self) -> list[str]:
        notes = [f"Training streams from {self.index.location} ({len(self.index.splits['train'])} shards)."]
        if self.skipped_labels:
            names = ", ".join(name for name, _ in self.skipped_labels[:3])
            notes.append(f"Skipped {len(self.skipped_labels)} evaluation sample(s) without an image or label: {names}.")
        reduced = self.index.train_shorter_side
        if reduced is not None and reduced < self.stored_side:
            notes.append(
                f"The training shards hold images reduced to a {reduced} px shorter side, under the {self.stored_side} "
                f"px this run's input size is cut from: they are enlarged. Write them with shards.py "
                f"train_shorter_side={self.stored_side} (or without it: the files' own size)."
            )
        return notes + super().notes


class StreamDataModule(ImageDataModule):
    """`ImageDataModule` with the training split read from shards (`ShardStream`) and the evaluation splits from
    their local copy. Options that need the training images by position are refused with the alternative."""

    def __init__(self, *, source: StreamSource, root: str | None, **options: Any) -> None:
        super().__init__(source=source, root=root, **options)
        self.skipped: dict[str, str] = {}  # bad training samples met so far: name -> why
        self.index: ShardIndex | None = None
        self._label_problems: list[tuple[str, str]] = []  # evaluation samples without an image or label

    @staticmethod
    def check_location(source: Any, root: str | None, csv: str | None, multi_label: bool) -> None:
        require_extra("webdataset", "stream", "data=stream")
        if source is None or not source.url:
            raise ConfigError(
                "data=stream needs data.source.url: the folder or URL of the shards and their shards.json, as "
                "shards.py writes them (python shards.py data=<your data> out=DIR)."
            )
        if root is None:
            raise ConfigError("data=stream needs data.root: where the validation and test shards are copied to.")

    def prepare_data(self) -> None:
        self.index = ShardIndex.read(self.source.url, self.source.retry_seconds)
        if "val" not in self.index.splits:
            raise DataError(f"The shards at {self.index.location} have no val split: write them with shards.py.")
        if self.balance is BalanceMode.weighted or self.folds:
            raise ConfigError(
                "data=stream reads the training images in the shards' order: data.balance=weighted and "
                "cross-validation need them by position (use data=imagefolder, csv or hf)."
            )
        self.multi_label = self.index.multi_label
        EvaluationCopy(self.index, self.source.retry_seconds).prepare(copy_folder(self.root, self.index))

    def listing(self) -> tuple[Listing, str]:
        assert self.index is not None
        listing, self._label_problems = EvaluationCopy.listing(copy_folder(self.root, self.index), self.index.classes)
        if self._label_problems and self.on_bad_image is BadImagePolicy.error:
            lines = "\n".join(f"  {name}: {why}" for name, why in self._label_problems)
            raise DataError(
                f"Evaluation samples that cannot be scored:\n{lines}\ndata.on_bad_image=skip leaves them out."
            )
        return listing, f"The validation and test shards come from {self.index.location}."

    def setup_data(self) -> DataReport:
        if self._report is None:
            report = super().setup_data()
            assert self.index is not None
            stored_side = StorageSpec.for_preprocessing(self.preprocessing).shorter_side
            self._report = StreamReport.of(report, self.index, self._label_problems, stored_side)
        return self._report

    def loader(self, split: str, whole: bool = False, resume_at: tuple[int, ...] | None = None) -> DataLoader:
        if split != "train":
            return super().loader(split, whole)
        if whole:
            raise ConfigError(
                "data=stream cannot cache the features of its training split (callbacks.feature_cache.enabled=false "
                "runs the frozen backbone at every step)."
            )
        assert self.index is not None
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        rank, world = (torch.distributed.get_rank(), torch.distributed.get_world_size()) if distributed else (0, 1)
        spec = StreamSpec(
            classes=len(self.class_names),
            multi_label=self.multi_label,
            storage=StorageSpec.for_preprocessing(self.preprocessing),
            size=self.image_size,
            resize=resize_size(self.preprocessing),
            augment=self.augment if self.augment.enabled else None,
            batch_size=self.batch_size,
            seed=self.seed,
            window_batches=self.source.window_batches,
            skip_bad=self.on_bad_image is BadImagePolicy.skip,
            retry_seconds=self.source.retry_seconds,
        )
        stream = ShardStream(self.index.urls("train"), self.index.shard_counts("train"), spec, rank, world)
        trainer = self.trainer
        loader = StreamLoader(stream, lambda: trainer.current_epoch if trainer is not None else 0, self.num_workers)
        if resume_at is not None:
            epoch, done, *before = resume_at
            loader.resume_at = (epoch, done, before[0] if before else max(self.num_workers, 1))
        return loader

    def on_after_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> tuple[torch.Tensor, ...]:
        for name, why in batch.pop("skipped", []):
            if name not in self.skipped:
                self.skipped[name] = why
        return super().on_after_batch_transfer(batch, dataloader_idx)

    def state_dict(self) -> dict[str, int]:
        state = super().state_dict()
        return {**state, "workers": max(self.num_workers, 1)} if state else state

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        if state_dict:
            self._resume_position = (state_dict["epoch"], state_dict["batches_done"], state_dict.get("workers", 1))

    def skipped_during_training(self) -> dict[str, str]:
        """Every rank's bad training samples (name -> why), gathered."""
        found = dict(self.skipped)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list[dict[str, str] | None] = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, found)
            found = {name: why for part in gathered if part for name, why in part.items()}
        return found

