"""k folds for cross-validation: stratified by class (multi-label: by each image's rarest label, `split_strata`),
and grouped, so that the images of one group (exact or near copies found by the duplicate scan) always share a
fold: a copy never stands on both sides of a fold's train / validation line.

The assignment is greedy, as scikit-learn's StratifiedGroupKFold: groups in a seeded order, the larger first, each
put in the fold whose class counts are furthest below their share. Without groups larger than one image it is an
ordinary stratified k-fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from inception_tl.errors import ConfigError


def duplicate_groups(count: int, pairs: Iterable[tuple[int, int]]) -> list[int]:
    """A group id per image: images joined by a pair (directly or through others) share one (union-find)."""
    parent = list(range(count))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for first, second in pairs:
        parent[root(first)] = root(second)
    roots = [root(index) for index in range(count)]
    ids: dict[int, int] = {}
    return [ids.setdefault(found, len(ids)) for found in roots]


def grouped_stratified_folds(strata: Sequence[int], groups: Sequence[int], folds: int, seed: int) -> list[int]:
    """The fold (0 .. folds-1) of every image."""
    if folds < 2:
        raise ConfigError(f"cv.folds={folds}: cross-validation needs at least 2 folds.")
    strata_array, group_array = np.asarray(strata), np.asarray(groups)
    classes, per_class = np.unique(strata_array, return_counts=True)
    if per_class.min() < folds:
        rare = [str(c) for c, n in zip(classes, per_class, strict=True) if n < folds]
        raise ConfigError(
            f"cv.folds={folds} needs at least {folds} images of each class; class index {', '.join(rare)} has fewer "
            f"({per_class.min()}): use fewer folds."
        )
    column = {cls: position for position, cls in enumerate(classes.tolist())}
    unique_groups = np.unique(group_array)
    members = {int(g): np.flatnonzero(group_array == g) for g in unique_groups}
    rng = np.random.default_rng(seed)
    order = rng.permutation(unique_groups)
    order = sorted(order.tolist(), key=lambda g: -len(members[g]))  # stable: the seeded order within a size
    target = per_class / folds
    counts = np.zeros((folds, len(classes)))
    sizes = np.zeros(folds)
    assigned = np.empty(len(strata_array), dtype=np.int64)
    for group in order:
        histogram = np.zeros(len(classes))
        for index in members[group]:
            histogram[column[strata_array[index].item()]] += 1
        # The fold where this group's classes are furthest below their share; ties: the smaller fold, then the first.
        deficit = ((target - counts) * histogram).sum(axis=1)
        best = min(range(folds), key=lambda fold: (-deficit[fold], sizes[fold], fold))
        counts[best] += histogram
        sizes[best] += len(members[group])
        assigned[members[group]] = best
    return assigned.tolist()
