"""Stratified, seeded splitting of labelled samples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inception_tl.errors import ConfigError


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
