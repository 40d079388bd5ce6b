"""Typed schemas for the `backbone`, `data` and `finetune` config groups, checked by Hydra itself.

Each option's YAML extends its group's schema (`defaults: [/schema/<group>@_here_, _self_]`), so
`data.batch_size=abc` or a misspelt key such as `data.batchsize=8` stops at start-up with Hydra's
message naming the key and the expected type, before anything is read or built. Values that are
well-typed but wrong (`val_split=2`, an unknown `verify` mode) are checked by the code that uses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from inception_tl.data.augment import Augment
from inception_tl.run_name import register_run_name


@dataclass
class HeadSchema:
    kind: str = "linear"
    hidden: int = 500
    dropout: float = 0.3


@dataclass
class BackboneSchema:
    name: str = MISSING
    pretrained: bool = True
    weights: str | None = None
    drop_rate: float = 0.0
    head: HeadSchema = field(default_factory=HeadSchema)


@dataclass
class DataSchema:
    _target_: str = "inception_tl.data.ImageDataModule"
    # Each dataset's own source (download, generation or a plain folder): its keys differ per dataset.
    source: Any = MISSING
    root: str = MISSING
    image_size: int | None = None
    batch_size: int = 32
    num_workers: int = 4
    val_split: float = 0.2
    seed: int = 0
    verify: str = "header"
    on_bad_image: str = "error"
    balance: str = "none"
    # Images in more than one split (identical files, or resized/recompressed copies by perceptual hash):
    # warn (list them in duplicates.csv), error (stop, naming each pair), drop (remove the evaluation copy,
    # listed in dropped_duplicates.csv), or off (no fingerprinting). near_duplicate_bits: pHash distance.
    on_duplicate: str = "warn"
    near_duplicate_bits: int = 8
    # Decode every image once into a memory-mapped file under cache_dir: auto (when it fits cache_max_gb
    # and the disk), always, or none (decode every image at every epoch).
    cache: str = "auto"
    cache_dir: str = "${paths.data_dir}/decoded"
    cache_max_gb: float = 64.0
    augment: Augment = field(default_factory=Augment)


@dataclass
class MilestoneSchema:
    epoch: int = MISSING
    unfreeze_from: str | None = None


@dataclass
class FinetuneSchema:
    strategy: str = MISSING
    warmup_epochs: int = 0
    unfreeze_from: str | None = None
    every_n_epochs: int = 1
    milestones: list[MilestoneSchema] = field(default_factory=list)
    backbone_lr_scale: float = 1.0
    lr_decay: float = 1.0
    min_lr_scale: float = 0.0
    train_bn: bool = False


def register_schemas() -> None:
    """Put the schemas where the group YAMLs look for them (`/schema/<group>`), and register the
    `${run_name:}` resolver the run folders are named with; safe to call again."""
    register_run_name()
    store = ConfigStore.instance()
    store.store(group="schema", name="backbone", node=BackboneSchema)
    store.store(group="schema", name="data", node=DataSchema)
    store.store(group="schema", name="finetune", node=FinetuneSchema)
