"""The inspection, in the order it runs: scan what the listing names, make the final splits, check them for
duplicates; returns the data report (see the package's docstring)."""

from __future__ import annotations

from inception_tl.data.inspect.duplicates import (
    DuplicateReport,
    duplicate_pairs,
    evaluation_copies,
    find_duplicates,
    raise_for_duplicates,
)
from inception_tl.data.inspect.folds import duplicate_groups, grouped_stratified_folds
from inception_tl.data.inspect.listing import Listing, Sample
from inception_tl.data.inspect.report import DataReport
from inception_tl.data.inspect.scan import ImageScan, raise_for_problems, scan_images
from inception_tl.data.inspect.splits import split_strata, stratified_split
from inception_tl.data.options import BadImagePolicy, BalanceMode, DuplicatePolicy, VerifyMode
from inception_tl.errors import ConfigError


def final_splits(
    scan: ImageScan, val_split: float, seed: int, folds: int = 0, fold: int = 0, near_duplicate_bits: int = 0
) -> dict[str, list[Sample]]:
    """train, val (the `val/` folder or rows, else a stratified, seeded `val_split` of train; with `folds`, fold
    `fold` of the training and validation images) and test when present."""
    train = scan.samples["train"]
    if folds:
        pool = [*train, *scan.samples.get("val", [])]
        pairs = pool_duplicates(pool, scan, near_duplicate_bits)
        assigned = grouped_stratified_folds(
            split_strata([label for _, label in pool]), duplicate_groups(len(pool), pairs), folds, seed
        )
        if not 0 <= fold < folds:
            raise ConfigError(f"cv.fold={fold}: choose a fold from 0 to {folds - 1}.")
        train = [sample for sample, k in zip(pool, assigned, strict=True) if k != fold]
        val = [sample for sample, k in zip(pool, assigned, strict=True) if k == fold]
    elif "val" in scan.samples:
        val = scan.samples["val"]
    else:
        kept, held_out = stratified_split(split_strata([label for _, label in train]), val_split, seed)
        train, val = [train[i] for i in kept], [train[i] for i in held_out]
    samples = {"train": train, "val": val}
    if "test" in scan.samples:
        samples["test"] = scan.samples["test"]
    return samples


def pool_duplicates(pool: list[Sample], scan: ImageScan, near_duplicate_bits: int) -> list[tuple[int, int]]:
    """Pairs of indices into `pool` that are copies (identical or near), by the scan's fingerprints; none when the
    duplicate check is off (no fingerprints were taken)."""
    if not scan.fingerprints:
        return []
    entries = [("train", path) for path, _ in pool]
    position = {path: index for index, (_, path) in enumerate(entries)}
    return [
        (position[pair.first_path], position[pair.second_path])
        for pair in duplicate_pairs(entries, scan.fingerprints, near_duplicate_bits)
    ]


def check_duplicates(
    samples: dict[str, list[Sample]], scan: ImageScan, policy: DuplicatePolicy, near_duplicate_bits: int
) -> DuplicateReport:
    """Find copies across and within the final splits; stop (error), drop the evaluation copies from `samples`
    in place (drop), or only report them (warn)."""
    split_paths = {split: [path for path, _ in pairs] for split, pairs in samples.items()}
    report = find_duplicates(split_paths, scan.fingerprints, near_duplicate_bits)
    if report.across and policy is DuplicatePolicy.error:
        raise_for_duplicates(report)
    if policy is DuplicatePolicy.drop:
        copies = evaluation_copies(report)
        for split in ("val", "test"):
            if split in samples:
                report.dropped += [path for path, _ in samples[split] if path in copies]
                samples[split] = [sample for sample in samples[split] if sample[0] not in copies]
    return report


def inspect_images(
    listing: Listing,
    *,
    verify: VerifyMode,
    on_bad_image: BadImagePolicy,
    on_duplicate: DuplicatePolicy,
    near_duplicate_bits: int,
    val_split: float,
    seed: int,
    balance: BalanceMode,
    folds: int = 0,
    fold: int = 0,
    workers: int,
    hint: str = "",
) -> DataReport:
    """Scan what `listing` names, make the final splits and check them for duplicates; a DataError lists every
    problem (`hint` ends it)."""
    check = on_duplicate is not DuplicatePolicy.off
    scan = scan_images(listing, verify, workers=workers, fingerprints=check)
    raise_for_problems(scan, on_bad_image, hint)
    samples = final_splits(scan, val_split, seed, folds, fold, near_duplicate_bits)
    duplicates = check_duplicates(samples, scan, on_duplicate, near_duplicate_bits) if check else None
    return DataReport(scan, samples, balance, on_duplicate, duplicates)
