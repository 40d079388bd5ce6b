"""Which part of the backbone trains at each epoch: every strategy is a list of release steps.

`full` releases everything at epoch 0, `linear_probe` never releases, `warmup` releases once after
the head has trained alone, `gradual` releases timm's stage groups one at a time from the top, and
`milestones` is the list written out by the user. The schedule is a pure function of the epoch, so
a resumed run recovers its phase from the epoch alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from inception_tl.errors import ConfigError
from inception_tl.finetune.stages import Stage

STRATEGIES = ("full", "linear_probe", "warmup", "gradual", "milestones")


@dataclass(frozen=True)
class Release:
    """From `epoch` on, the backbone trains from stage `unfreeze_from` upwards (None: all of it)."""

    epoch: int
    unfreeze_from: str | None


@dataclass(frozen=True)
class FreezeSchedule:
    """Releases in epoch order; before the first one only the head trains."""

    releases: tuple[Release, ...]
    stage_names: tuple[str, ...]

    def frozen_stages(self, epoch: int) -> int:
        """How many leading stages are frozen during `epoch` (0: none, len(stages): the whole backbone)."""
        frozen = len(self.stage_names)
        for release in self.releases:
            if release.epoch <= epoch:
                frozen = 0 if release.unfreeze_from is None else self.stage_names.index(release.unfreeze_from)
        return frozen

    def phase(self, epoch: int) -> int:
        """How many release steps have happened by `epoch` (0: only the head trains, unless `full`)."""
        return sum(release.epoch <= epoch for release in self.releases)

    @property
    def changes_during_training(self) -> bool:
        """Whether some release happens after the first epoch (someone must apply it then)."""
        return any(release.epoch > 0 for release in self.releases)

    def describe(self, frozen: int) -> str:
        """What trains when the first `frozen` stages are frozen, in words for the log."""
        if frozen == 0:
            return "the whole network trains"
        if frozen >= len(self.stage_names):
            return "only the head trains (backbone frozen)"
        return f"the head and the backbone from {self.stage_names[frozen]} up train"


def release_names(stages: Sequence[Stage]) -> list[str]:
    """Names `unfreeze_from` accepts: the stages that hold parameters, bottom to top."""
    return [stage.name for stage in stages if stage.group is not None]


def group_starts(stages: Sequence[Stage]) -> list[str]:
    """The first stage of each timm group, bottom to top: `gradual`'s units of release."""
    starts: list[str] = []
    seen: set[int] = set()
    for stage in stages:
        if stage.group is not None and stage.group not in seen:
            seen.add(stage.group)
            starts.append(stage.name)
    return starts


def _check_name(name: str | None, valid: list[str], key: str) -> None:
    if name is not None and name not in valid:
        raise ConfigError(f"{key}={name!r} names no block of this backbone. Valid names, bottom to top: {valid}.")


def make_schedule(
    strategy: str,
    stages: Sequence[Stage],
    *,
    warmup_epochs: int,
    unfreeze_from: str | None,
    every_n_epochs: int,
    milestones: Sequence[Mapping],
) -> FreezeSchedule:
    """Build and validate the schedule for one of STRATEGIES; the values are `FinetuneConfig`'s (its `schedule`),
    whose defaults are the one statement of them."""
    if warmup_epochs < 0:
        raise ConfigError(f"finetune.warmup_epochs must not be negative, got {warmup_epochs}.")
    valid = release_names(stages)
    names = tuple(stage.name for stage in stages)
    if strategy == "full":
        releases = [Release(0, None)]
    elif strategy == "linear_probe":
        releases = []
    elif strategy == "warmup":
        _check_name(unfreeze_from, valid, "finetune.unfreeze_from")
        releases = [Release(warmup_epochs, unfreeze_from)]
    elif strategy == "gradual":
        if every_n_epochs < 1:
            raise ConfigError(f"finetune.every_n_epochs must be at least 1, got {every_n_epochs}.")
        top_down = list(reversed(group_starts(stages)))
        releases = [Release(warmup_epochs + k * every_n_epochs, name) for k, name in enumerate(top_down)]
    elif strategy == "milestones":
        releases = []
        for step in milestones:
            _check_name(step.get("unfreeze_from"), valid, "finetune.milestones[].unfreeze_from")
            releases.append(Release(int(step["epoch"]), step.get("unfreeze_from")))
        releases.sort(key=lambda release: release.epoch)
    else:
        raise ConfigError(f"Unknown finetune strategy {strategy!r}; choose one of {list(STRATEGIES)}.")
    return FreezeSchedule(tuple(releases), names)


@runtime_checkable
class Freezable(Protocol):
    """What `FreezeScheduleCallback` needs of the module it drives (`ImageClassifier` is one).

    The module owns the consequences of a stage count: which stages run without autograd, and BatchNorm's
    mode (its `train()` keeps frozen BatchNorm in inference mode whoever calls it).
    """

    freeze_schedule: FreezeSchedule
    frozen_stages: int

    def set_frozen_stages(self, count: int) -> None: ...

    def trainable_parameters(self) -> int: ...
