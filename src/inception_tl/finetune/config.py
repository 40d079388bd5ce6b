"""The `finetune` config group as a checked value: which strategy, when, and at which learning rates."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from inception_tl.errors import ConfigError

if TYPE_CHECKING:
    from inception_tl.finetune.schedule import FreezeSchedule
    from inception_tl.finetune.stages import Stage


class FinetuneStrategy(str, Enum):
    """`finetune.strategy`: which backbone stages train when (README, Fine-tuning schedule)."""

    full = "full"  # everything from the first step
    linear_probe = "linear_probe"  # the head alone, for the whole run
    warmup = "warmup"  # the head alone for warmup_epochs, then the backbone from unfreeze_from up
    gradual = "gradual"  # after the warm-up, one more stage group every every_n_epochs
    milestones = "milestones"  # an explicit list of {epoch, unfreeze_from} steps


@functools.cache
def skeleton_stages(backbone: str, model_kwargs: str = "{}") -> tuple[Stage, ...]:
    """The stages of a weightless `backbone` (the meta device allocates nothing), built once per process: on
    the meta device timm's weight initialisation runs through torch's reference ops (half a second to a
    second on a CPU core), and the jobs of a multirun or a search each check their schedule. Empty when the model
    cannot run on the meta device: the real model's construction checks the schedule then. `model_kwargs`: as
    JSON, the cache's hashable key (the values may be lists: `layers=[1,1,1,1]`)."""
    # timm and torch here, not at the top: the config schema reads this module's fields (`train.py --help`).
    import timm
    import torch

    from inception_tl.data.preprocessing import check_backbone_name
    from inception_tl.finetune.stages import backbone_stages

    check_backbone_name(backbone)
    with torch.device("meta"):
        skeleton = timm.create_model(backbone, pretrained=False, num_classes=0, **json.loads(model_kwargs))
        try:
            return tuple(backbone_stages(skeleton))
        except Exception:  # an operation without a meta implementation, in any layer of any model
            return ()


@dataclass(frozen=True)
class FinetuneConfig:
    """See `conf/finetune/*.yaml`; the defaults train everything at one learning rate (no freezing)."""

    strategy: str = "full"
    warmup_epochs: int = 0
    unfreeze_from: str | None = None
    every_n_epochs: int = 1
    milestones: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    # Learning rates, as fractions of the optimizer's lr (the head's): the top backbone group trains at
    # backbone_lr_scale, each group below at a further lr_decay, never below min_lr_scale.
    backbone_lr_scale: float = 1.0
    lr_decay: float = 1.0
    min_lr_scale: float = 0.0
    # False (default): frozen BatchNorm stays in inference mode, its running statistics untouched.
    train_bn: bool = False

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> FinetuneConfig:
        """Build from the config node; unknown keys and out-of-range values raise ConfigError."""
        values = dict(values or {})
        known = [item.name for item in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"Unknown finetune option(s) {unknown}; valid options: {known}.")
        values["milestones"] = tuple(dict(step) for step in values.get("milestones") or ())
        config = cls(**values)
        config._check()
        return config

    def _check(self) -> None:
        if not self.backbone_lr_scale > 0:
            raise ConfigError(f"finetune.backbone_lr_scale must be positive, got {self.backbone_lr_scale}.")
        if not 0 < self.lr_decay <= 1:
            raise ConfigError(f"finetune.lr_decay must be in (0, 1], got {self.lr_decay}.")
        if not 0 <= self.min_lr_scale <= self.backbone_lr_scale:
            raise ConfigError(
                f"finetune.min_lr_scale must be in [0, backbone_lr_scale={self.backbone_lr_scale}], "
                f"got {self.min_lr_scale}."
            )
        for step in self.milestones:
            if "epoch" not in step or set(step) - {"epoch", "unfreeze_from"}:
                raise ConfigError(
                    f"Each finetune.milestones entry is {{epoch: N, unfreeze_from: BLOCK or null}}, got {step}."
                )

    @property
    def freezes_part(self) -> bool:
        """Whether some epoch trains the top of the backbone but not its bottom (which needs the stage walk)."""
        if self.strategy == "gradual":
            return True
        if self.strategy == "warmup":
            return self.unfreeze_from is not None
        return any(step.get("unfreeze_from") is not None for step in self.milestones)

    def schedule(self, stages: Sequence[Stage]) -> FreezeSchedule:
        """The validated release steps for these backbone stages."""
        from inception_tl.finetune.schedule import make_schedule

        return make_schedule(
            self.strategy,
            stages,
            warmup_epochs=self.warmup_epochs,
            unfreeze_from=self.unfreeze_from,
            every_n_epochs=self.every_n_epochs,
            milestones=self.milestones,
        )

    def check_for_backbone(self, backbone: str, model_kwargs: Mapping[str, Any] | None = None) -> None:
        """Raise ConfigError now if the schedule names no block of `backbone`: checked on a weightless copy,
        so a typo stops the run before any data is read or weights are fetched."""
        stages = skeleton_stages(backbone, json.dumps(dict(model_kwargs or {}), sort_keys=True))
        if stages:
            self.schedule(stages)

    def group_lr_scales(self, num_groups: int) -> list[float]:
        """Learning-rate factors of the backbone's stage groups, bottom to top (discriminative rates)."""
        return [
            max(self.backbone_lr_scale * self.lr_decay ** (num_groups - 1 - position), self.min_lr_scale)
            for position in range(num_groups)
        ]
