"""The data options whose value is one of a few choices, each an Enum: `DataSchema` types its fields with them, so
Hydra refuses a wrong value at start-up, naming the choices, before anything is read; and the ranges of the
numeric ones (`check_option_ranges`); and the small option groups (`MixOptions`, `TableColumns`), here rather than
beside the code that applies them so that the schemas load without torch (`train.py --help`).

The values equal the names, as written in YAML (quote `"off"`: YAML reads a bare off as false), on the command
line and in a checkpoint's `trained_on`; `choice` turns either form into the member.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from inception_tl.errors import ConfigError


class VerifyMode(Enum):
    """How the scan checks each image before training."""

    header = "header"  # PIL verifies each file's structure without decoding it (fast)
    full = "full"  # decodes every image as training will: also catches truncated JPEGs


class BadImagePolicy(Enum):
    """What an image that cannot be read does to the run."""

    error = "error"  # stop and list every unreadable image
    skip = "skip"  # train without them; they are listed in skipped_images.csv


class BalanceMode(Enum):
    """How training images are drawn."""

    none = "none"  # every image once per epoch
    weighted = "weighted"  # with replacement, inversely proportional to the class size: classes equally often


class DuplicatePolicy(Enum):
    """What images found in more than one split (identical, or resized/recompressed copies) do."""

    warn = "warn"  # list them in duplicates.csv and train on
    error = "error"  # stop, naming each pair
    drop = "drop"  # remove the evaluation copy (listed in dropped_duplicates.csv)
    off = "off"  # no check: the scan does not fingerprint


class CacheMode(Enum):
    """Whether images are decoded once into a memory-mapped file under `data.cache_dir`."""

    auto = "auto"  # when it fits data.cache_max_gb and leaves the disk at most 90% full
    always = "always"  # whatever its size (an error when the disk cannot hold it)
    none = "none"  # decode every image at every epoch


class CropMode(Enum):
    """How an image becomes the model's square input (`data.crop_mode`, timm's names and meaning)."""

    center = "center"  # the shorter side to size / crop_pct, then the centre square: a wide image loses its sides
    squash = "squash"  # both sides to size / crop_pct (stretched), then the centre: nothing lost, shapes distorted
    border = "border"  # the longer side to size / crop_pct, ratio kept, padded with the mean colour: nothing lost


class AugmentPolicy(Enum):
    """A policy of colour operations drawn per training image (`data.augment.policy`)."""

    none = "none"
    trivial = "trivial"  # TrivialAugment's: data.augment.policy_ops operations of random kind and strength


class WorkerMode(Enum):
    """What `data.num_workers` loads batches with."""

    auto = "auto"  # threads when images come from the decoded-image cache, processes when they are decoded
    threads = "threads"  # threads in the training process: no batch crosses between processes
    processes = "processes"  # torch's DataLoader worker processes


@dataclass
class MixOptions:
    """`mixup` in the config, timm's names (applied by data/device/mix.py): an alpha of 0 turns that kind off (both
    0: no mixing)."""

    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    prob: float = 1.0
    switch_prob: float = 0.5

    @property
    def enabled(self) -> bool:
        return self.mixup_alpha > 0 or self.cutmix_alpha > 0


@dataclass
class TableColumns:
    """The CSV's column names (`data.columns.*`; read by data/inspect/table.py)."""

    path: str = "path"
    label: str = "label"
    split: str = "split"


Choice = TypeVar("Choice", bound=Enum)


def choice(kind: type[Choice], value: Choice | str, option: str) -> Choice:
    """`value` (a member, or its name) as a member of `kind`; a ConfigError naming `option` and the choices."""
    if isinstance(value, kind):
        return value
    try:
        return kind[str(value)]
    except KeyError:
        names = ", ".join(member.name for member in kind)
        raise ConfigError(f"{option}={value!r}: choose one of {names}.") from None


def check_option_ranges(
    batch_size: int, num_workers: int, val_split: float, cache_max_gb: float, near_duplicate_bits: int
) -> None:
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
    if cache_max_gb < 0:
        raise ConfigError(f"data.cache_max_gb={cache_max_gb} must be 0 or more.")
    if not 0 <= near_duplicate_bits <= 32:
        raise ConfigError(
            f"data.near_duplicate_bits={near_duplicate_bits} must be between 0 (pHash identical) and 32 (about "
            "half the bits of unrelated images); 8 finds resized and recompressed copies."
        )
