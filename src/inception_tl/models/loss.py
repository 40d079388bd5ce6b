"""The training loss's class weights: none, scikit-learn's `balanced`, or the user's list; multi-label, each
label's `pos_weight` for binary cross-entropy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from inception_tl.errors import ConfigError

BALANCED = "balanced"


def class_weights(setting: Any, counts: Mapping[str, int], class_names: Sequence[str]) -> list[float] | None:
    """Each class's weight in the training loss, in the order of `class_names`, for `loss.class_weights`:
    None (no weighting), "balanced" (n / (classes x images of the class), scikit-learn's
    `compute_class_weight("balanced")`, from the training split's `counts`), or a list of positive numbers."""
    if setting is None:
        return None
    if setting == BALANCED:
        total = sum(counts[name] for name in class_names)
        empty = [name for name in class_names if counts[name] == 0]
        if empty:
            raise ConfigError(f"loss.class_weights=balanced: the training split has no images of {empty}.")
        return [total / (len(class_names) * counts[name]) for name in class_names]
    if isinstance(setting, str):
        raise ConfigError(
            f"loss.class_weights={setting!r}: choose null, balanced, or a list of {len(class_names)} numbers."
        )
    weights = [float(weight) for weight in setting]
    if len(weights) != len(class_names) or not all(weight > 0 for weight in weights):
        raise ConfigError(
            f"loss.class_weights={weights}: give one positive weight per class, in the order {list(class_names)}."
        )
    return weights


def positive_weights(
    setting: Any, counts: Mapping[str, int], images: int, class_names: Sequence[str]
) -> list[float] | None:
    """Multi-label `loss.class_weights`: each label's positive examples weighted in its binary cross-entropy
    (`pos_weight`): None, "balanced" (negatives / positives in the training split, as torch's documentation of
    BCEWithLogitsLoss suggests: each label's positives then weigh as much as its negatives), or a list."""
    if setting != BALANCED:
        return class_weights(setting, counts, class_names)
    empty = [name for name in class_names if counts[name] in (0, images)]
    if empty:
        raise ConfigError(
            f"loss.class_weights=balanced: in the training split, {empty} are on no image or on every image."
        )
    return [(images - counts[name]) / counts[name] for name in class_names]


def describe_weights(setting: Any, weights: Sequence[float], class_names: Sequence[str]) -> str:
    """The line a run prints when its loss is class-weighted."""
    listed = ", ".join(f"{name} {weight:.3g}" for name, weight in zip(class_names, weights, strict=True))
    return f"Class-weighted training loss (loss.class_weights={setting}): {listed}."
