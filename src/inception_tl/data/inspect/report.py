"""The data report: what the data holds before training (images per class and split), what was left out or
found (ignored files, skipped images, duplicates, imbalance) and how the pixels are stored. One value, returned
by `ImageDataModule.setup_data`; the training task prints it and writes it into the run directory."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from inception_tl.data.inspect.aspect import AspectRatios
from inception_tl.data.inspect.duplicates import DuplicateReport, duplicate_notes, write_duplicate_lists
from inception_tl.data.inspect.listing import Sample
from inception_tl.data.inspect.scan import ImageScan, examples
from inception_tl.data.options import BalanceMode, DuplicatePolicy

# Above this ratio of largest to smallest training class, plain cross-entropy mostly learns the prior.
IMBALANCE_RATIO = 2.0


def class_counts(samples: Mapping[str, Sequence[Sample]], class_names: Sequence[str]) -> dict[str, dict[str, int]]:
    """`counts[split][class]`: images per class in each split, every class listed (zeros included); an image
    with several labels counts for each."""
    counts = {}
    for split, pairs in samples.items():
        per_label = Counter(index for _, label in pairs for index in (label if isinstance(label, tuple) else (label,)))
        counts[split] = {name: per_label.get(index, 0) for index, name in enumerate(class_names)}
    return counts


def imbalance_ratio(counts: Mapping[str, int]) -> float:
    sizes = [count for count in counts.values() if count > 0]
    return max(sizes) / min(sizes) if sizes else 1.0


def scan_notes(scan: ImageScan, counts: Mapping[str, Mapping[str, int]], balance: BalanceMode) -> list[str]:
    """Warnings a user should read before trusting the run: ignored files, skipped images, imbalance."""
    notes = []
    if scan.not_images:
        notes.append(
            f"Ignored {len(scan.not_images)} file(s) that are not images (by extension): {examples(scan.not_images)}."
        )
    if scan.bad_images:
        notes.append(
            f"Skipped {len(scan.bad_images)} unreadable image(s) (data.on_bad_image=skip), listed in "
            f"skipped_images.csv: {examples([bad.path for bad in scan.bad_images])}."
        )
    ratio = imbalance_ratio(counts.get("train", {}))
    if ratio >= IMBALANCE_RATIO:
        largest = max(counts["train"], key=counts["train"].get)
        smallest = min(counts["train"], key=counts["train"].get)
        advice = (
            "data.balance=weighted is on: training draws classes equally often."
            if balance is BalanceMode.weighted
            else "Consider data.balance=weighted or loss.class_weights=balanced, and judge the run by F1 and AUROC "
            "rather than accuracy."
        )
        notes.append(
            f"The training classes are imbalanced: {largest} has {ratio:.1f}x the images of {smallest}. {advice}"
        )
    return notes


@dataclass
class DataReport:
    """The final splits and everything a user should know about them before trusting a run."""

    scan: ImageScan
    samples: dict[str, list[Sample]]  # split -> (path, label), the splits training and evaluation use
    balance: BalanceMode
    on_duplicate: DuplicatePolicy
    duplicates: DuplicateReport | None = None  # None when the duplicate check is off
    storage: str = ""  # how the pixels are stored (the decoded-image cache or not), in words
    crop_mode: str = "center"  # how each image becomes the model's square input (data.crop_mode)

    @property
    def aspect(self) -> AspectRatios | None:
        """Width / height of the training images (from the scan's headers)."""
        sizes = self.scan.image_sizes
        return AspectRatios.of([sizes[path] for path, _ in self.samples.get("train", []) if path in sizes])

    @property
    def root(self) -> Path:
        return self.scan.root

    @property
    def class_names(self) -> list[str]:
        return self.scan.class_names

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return class_counts(self.samples, self.class_names)

    @property
    def notes(self) -> list[str]:
        """Warnings to read before trusting the run, and the storage decision."""
        notes = scan_notes(self.scan, self.counts, self.balance)
        aspect = self.aspect
        if aspect is not None and (cut := aspect.note(self.crop_mode)):
            notes.append(cut)
        if self.duplicates is not None:
            notes += duplicate_notes(self.duplicates, self.on_duplicate)
        return [*notes, self.storage] if self.storage else notes

    def write(self, output_dir: Path) -> None:
        """data_summary.json (counts, ignored and skipped files, duplicates, notes) and the CSV lists: skipped
        images, duplicate pairs across splits and dropped evaluation copies, each when there are any."""
        output_dir.mkdir(parents=True, exist_ok=True)
        scan, duplicates = self.scan, self.duplicates
        summary = {
            "root": str(scan.root),
            "class_names": scan.class_names,
            "counts": self.counts,
            "not_images": scan.not_images,
            "skipped_images": [bad.path for bad in scan.bad_images],
            "duplicates": duplicates.as_dict() if duplicates is not None else None,
            "aspect_ratios": self.aspect.as_dict() if self.aspect is not None else None,
            "crop_mode": self.crop_mode,
            "notes": self.notes,
        }
        (output_dir / "data_summary.json").write_text(json.dumps(summary, indent=2))
        if duplicates is not None:
            write_duplicate_lists(output_dir, duplicates)
        if scan.bad_images:
            with open(output_dir / "skipped_images.csv", "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["path", "reason"])
                writer.writerows((bad.path, bad.reason) for bad in scan.bad_images)


def write_skipped_samples(skipped: Mapping[str, str], output_dir: Path) -> str:
    """`skipped_samples.csv` (the bad samples a stream met while training) and the line that says so."""
    with open(output_dir / "skipped_samples.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sample", "reason"])
        writer.writerows(sorted(skipped.items()))
    names = ", ".join(sorted(skipped)[:3])
    return (
        f"[yellow]Skipped {len(skipped)} bad training sample(s) (data.on_bad_image=skip), listed in "
        f"skipped_samples.csv: {names}{', ...' if len(skipped) > 3 else ''}[/yellow]"
    )
