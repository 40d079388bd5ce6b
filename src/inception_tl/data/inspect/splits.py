"""Stratified, seeded splitting of labelled samples."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from inception_tl.errors import ConfigError


def split_strata(labels: Sequence[int | tuple[int, ...]]) -> list[int]:
    """The class each image is stratified by: its label, or (multi-label) the rarest of its labels in these
    images, so that a rare label keeps its share in both parts (ties: the lower class index).

    Simpler than iterative stratification (Sechidis et al., 2011), and exact for what matters most here: no
    rare label ends up absent from validation by chance.
    """
    if not labels or not isinstance(labels[0], tuple):
        return list(labels)  # type: ignore[arg-type]
    counts = Counter(index for label in labels for index in label)  # type: ignore[union-attr]
    return [min(label, key=lambda index: (counts[index], index)) for label in labels]  # type: ignore[arg-type]


def stratified_split(labels: Sequence[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (kept, held_out) with round(fraction * n) held out, in the class proportions.

    Per-class quotas use the largest-remainder method, so the total is exact and every class
    keeps its share; the same labels, fraction and seed always give the same split.
    """
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"data.val_split must be between 0 and 1 (exclusive), got {fraction}.")
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    total = round(fraction * len(labels))
    exact = counts * fraction
    quotas = np.floor(exact).astype(int)
    leftover = total - quotas.sum()
    # Classes with the largest fractional parts get the remaining places; ties go to the earlier class.
    order = np.argsort(-(exact - quotas), kind="stable")
    quotas[order[:leftover]] += 1

    rng = np.random.default_rng(seed)
    kept: list[int] = []
    held_out: list[int] = []
    for cls, quota in zip(classes, quotas, strict=True):
        members = rng.permutation(np.flatnonzero(labels == cls))
        held_out.extend(members[:quota].tolist())
        kept.extend(members[quota:].tolist())
    return sorted(kept), sorted(held_out)
