"""Leakage and duplicate checks between and within the splits, before training.

An evaluation image that is also in the training set (a copy, or a resized or recompressed one) scores
memory, not generalisation: the most common reason a validation accuracy cannot be trusted. CIFAR-10
itself has such near-copies of test images in its training set (about 3%, by the ciFAIR study). The
scan fingerprints every image (`fingerprint.py`); here every pair of images is compared once the
splits are final, so the validation split carved out of train/ is checked too.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from inception_tl.data.inspect.fingerprint import Fingerprint, colour_difference
from inception_tl.data.inspect.listing import SPLITS
from inception_tl.data.options import DuplicatePolicy
from inception_tl.errors import DataError

# Most colour-thumbnail difference (levels of 255) for a pHash candidate to count as a near-duplicate.
COLOUR_TOLERANCE = 8.0
PAIRS_SHOWN = 10
ROWS_PER_BLOCK = 512  # pHash comparisons per block: 512 x N distances in memory at once


@dataclass(frozen=True)
class DuplicatePair:
    """Two images with the same content (`exact`) or nearly the same (`near`: pHash bits apart)."""

    kind: str
    first_split: str
    first_path: str
    second_split: str
    second_path: str
    distance: int

    def describe(self) -> str:
        what = "identical files" if self.kind == "exact" else f"near-duplicates, {self.distance} pHash bits apart"
        return f"{self.first_split}: {self.first_path}  <->  {self.second_split}: {self.second_path} ({what})"


@dataclass
class DuplicateReport:
    """Pairs across splits (leakage), pair counts within each split, and what was dropped."""

    across: list[DuplicatePair] = field(default_factory=list)
    within: dict[str, dict[str, int]] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "across_splits": [asdict(pair) for pair in self.across],
            "within_splits": self.within,
            "dropped": self.dropped,
        }


def near_pairs(hashes: np.ndarray, max_bits: int, workers: int = 2) -> list[tuple[int, int, int]]:
    """(i, j, distance) for i < j with the pHashes at most `max_bits` apart: every pair, in blocks of rows.

    NumPy's popcount over all pairs costs 60,000 images a few seconds on 2 cores; the blocks run in
    threads (NumPy releases the GIL in its loops).
    """

    def block(start: int) -> list[tuple[int, int, int]]:
        rows = hashes[start : start + ROWS_PER_BLOCK]
        distances = np.bitwise_count(rows[:, None] ^ hashes[None, start:])
        i, j = np.nonzero(distances <= max_bits)
        keep = j > i
        return [(start + a, start + b, int(distances[a, b])) for a, b in zip(i[keep], j[keep], strict=True)]

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return [pair for found in pool.map(block, range(0, len(hashes), ROWS_PER_BLOCK)) for pair in found]


def find_duplicates(
    split_paths: Mapping[str, Sequence[str]],
    fingerprints: Mapping[str, Fingerprint],
    near_duplicate_bits: int,
    workers: int = 2,
) -> DuplicateReport:
    """Every identical or near-identical pair of images: listed when across splits, counted within one."""
    entries = [(split, path) for split in SPLITS for path in split_paths.get(split, ())]
    report = DuplicateReport(within={split: {"exact": 0, "near": 0} for split in split_paths})
    for pair in duplicate_pairs(entries, fingerprints, near_duplicate_bits, workers):
        if pair.first_split == pair.second_split:
            report.within[pair.first_split][pair.kind] += 1
        else:
            report.across.append(pair)
    report.across.sort(key=lambda pair: (pair.kind != "exact", pair.first_path, pair.second_path))
    return report


def duplicate_pairs(
    entries: Sequence[tuple[str, str]],
    fingerprints: Mapping[str, Fingerprint],
    near_duplicate_bits: int,
    workers: int = 2,
) -> list[DuplicatePair]:
    """Every identical or near-identical pair among (split, path) `entries`."""
    found: list[DuplicatePair] = []
    by_content: dict[str, list[int]] = defaultdict(list)
    for index, (_, path) in enumerate(entries):
        by_content[fingerprints[path].content].append(index)
    for members in by_content.values():
        for position, i in enumerate(members):
            for j in members[position + 1 :]:
                found.append(DuplicatePair("exact", *entries[i], *entries[j], 0))

    hashes = np.array([fingerprints[path].perceptual for _, path in entries], dtype=np.uint64)
    for i, j, bits in near_pairs(hashes, near_duplicate_bits, workers):
        first, second = fingerprints[entries[i][1]], fingerprints[entries[j][1]]
        if first.content != second.content and colour_difference(first, second) <= COLOUR_TOLERANCE:
            found.append(DuplicatePair("near", *entries[i], *entries[j], bits))
    return found


def evaluation_copies(report: DuplicateReport) -> set[str]:
    """The evaluation-split member of each pair across splits: the later split's (val before test)."""
    return {pair.second_path for pair in report.across}


def raise_for_duplicates(report: DuplicateReport) -> None:
    """data.on_duplicate=error: one DataError naming both files of each pair across splits."""
    lines = [f"  {pair.describe()}" for pair in report.across[:PAIRS_SHOWN]]
    if len(report.across) > PAIRS_SHOWN:
        lines.append(f"  and {len(report.across) - PAIRS_SHOWN} more pair(s)")
    raise DataError(
        f"{len(report.across)} image(s) appear in more than one split (evaluation would score copies of training "
        "images):\n" + "\n".join(lines) + "\nDelete or move one file of each pair, or set data.on_duplicate=drop "
        "(removes the evaluation copy and lists it) or data.on_duplicate=warn (train on, listed in the run directory)."
    )


def duplicate_notes(report: DuplicateReport, policy: DuplicatePolicy) -> list[str]:
    """What the run summary says about duplicates (nothing when there are none)."""
    notes = []
    if report.across:
        exact = sum(pair.kind == "exact" for pair in report.across)
        action = (
            f"dropped {len(report.dropped)} evaluation image(s) (listed in dropped_duplicates.csv)"
            if policy is DuplicatePolicy.drop
            else "set data.on_duplicate=drop to remove the evaluation copies, or error to stop"
        )
        examples = "; ".join(pair.describe() for pair in report.across[:3])
        notes.append(
            f"Leakage: {len(report.across)} pair(s) of images across splits ({exact} identical, "
            f"{len(report.across) - exact} near-duplicates), listed in duplicates.csv; {action}. E.g. {examples}."
        )
    counts = [
        f"{split}: {c['exact']} identical, {c['near']} near" for split, c in report.within.items() if any(c.values())
    ]
    if counts:
        notes.append(
            f"Duplicate pairs within a split ({'; '.join(counts)}): harmless for leakage, but they weigh double."
        )
    return notes


def write_duplicate_lists(output_dir: Path, report: DuplicateReport) -> None:
    """duplicates.csv (every pair across splits) and dropped_duplicates.csv (data.on_duplicate=drop)."""
    if report.across:
        with open(output_dir / "duplicates.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["kind", "first_split", "first_path", "second_split", "second_path", "phash_bits"])
            writer.writerows(
                (p.kind, p.first_split, p.first_path, p.second_split, p.second_path, p.distance) for p in report.across
            )
    if report.dropped:
        with open(output_dir / "dropped_duplicates.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "split", "copy_of"])
            copy_of = {pair.second_path: (pair.second_split, pair.first_path) for pair in report.across}
            writer.writerows((path, *copy_of[path]) for path in report.dropped)
