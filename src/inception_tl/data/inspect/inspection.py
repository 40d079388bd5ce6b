"""The inspection, in the order it runs: scan what the listing names, make the final splits, check them for
duplicates; returns the data report (see the package's docstring)."""

from __future__ import annotations

from inception_tl.data.inspect.duplicates import (
    DuplicateReport,
    evaluation_copies,
    find_duplicates,
    raise_for_duplicates,
)
from inception_tl.data.inspect.listing import Listing, Sample
from inception_tl.data.inspect.report import DataReport
from inception_tl.data.inspect.scan import ImageScan, raise_for_problems, scan_images
from inception_tl.data.inspect.splits import split_strata, stratified_split
from inception_tl.data.options import BadImagePolicy, BalanceMode, DuplicatePolicy, VerifyMode


def final_splits(scan: ImageScan, val_split: float, seed: int) -> dict[str, list[Sample]]:
    """train, val (the `val/` folder or rows, else a stratified, seeded `val_split` of train) and test when
    present."""
    train = scan.samples["train"]
    if "val" in scan.samples:
        val = scan.samples["val"]
    else:
        kept, held_out = stratified_split(split_strata([label for _, label in train]), val_split, seed)
        train, val = [train[i] for i in kept], [train[i] for i in held_out]
    samples = {"train": train, "val": val}
    if "test" in scan.samples:
        samples["test"] = scan.samples["test"]
    return samples


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
    workers: int,
    hint: str = "",
) -> DataReport:
    """Scan what `listing` names, make the final splits and check them for duplicates; a DataError lists every
    problem (`hint` ends it)."""
    check = on_duplicate is not DuplicatePolicy.off
    scan = scan_images(listing, verify, workers=workers, fingerprints=check)
    raise_for_problems(scan, on_bad_image, hint)
    samples = final_splits(scan, val_split, seed)
    duplicates = check_duplicates(samples, scan, on_duplicate, near_duplicate_bits) if check else None
    return DataReport(scan, samples, balance, on_duplicate, duplicates)
