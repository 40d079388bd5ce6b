"""Check every image a dataset lists before training and report every problem at once.

torchvision's `ImageFolder` stops at the first missing folder and a corrupt image surfaces only when a
DataLoader worker reaches it, mid-epoch, as a stack trace. This scan opens every image the listing names
(class folders or a label table, `listing.py`) first: problems of the listing and unreadable images are
collected and reported together, files that are not images are counted (never silently), and bad images
(missing files included) are either an error listing each one or, when the user asks for it, dropped and
listed.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lightning.pytorch.utilities.rank_zero import rank_zero_only
from PIL import Image
from tqdm.auto import tqdm

from inception_tl.data.inspect.fingerprint import Fingerprint, fingerprint
from inception_tl.data.inspect.listing import Listing, Sample, list_folder
from inception_tl.data.options import BadImagePolicy, VerifyMode
from inception_tl.data.store.decode import load_rgb
from inception_tl.errors import DataError

EXAMPLES_SHOWN = 5


@dataclass(frozen=True)
class BadImage:
    path: str
    reason: str


@dataclass
class ImageScan:
    """What a dataset holds: the usable samples per split and everything that was wrong or left out."""

    root: Path  # the image folder or the label table
    kind: str = "folder"  # which of the two (Listing.kind)
    class_names: list[str] = field(default_factory=list)
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    bad_images: list[BadImage] = field(default_factory=list)
    not_images: list[str] = field(default_factory=list)
    # (width, height) from each readable image's header: what the decoded-image cache will need.
    image_sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Content and perceptual hashes of each readable image, for the duplicate check (when it is on).
    fingerprints: dict[str, Fingerprint] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageFacts:
    """What the scan learns from a readable image: its header size, and its fingerprints when asked for."""

    size: tuple[int, int]
    fingerprint: Fingerprint | None = None


def read_image(path: str, full: bool = False, fingerprints: bool = False) -> ImageFacts:
    """Read `path` once and check it: PIL verifies the structure (PNG CRCs, truncation); `full` also decodes
    it completely into RGB, as training will; `fingerprints` hashes its bytes and a small decoded copy."""
    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        size = image.size
        image.verify()
    if full:
        load_rgb(io.BytesIO(data))
    return ImageFacts(size, fingerprint(data) if fingerprints else None)


def image_problem(path: str, full: bool, fingerprints: bool) -> BadImage | ImageFacts:
    """Why `path` cannot be used, or what it is. Any exception counts: PIL's parsers can raise many kinds
    (struct.error, IndexError, ...) on malformed files, and each means the same: this image is unusable."""
    try:
        return read_image(path, full, fingerprints)
    except FileNotFoundError:
        return BadImage(path, "no such file")
    except Exception as error:
        cause = error.__cause__ if isinstance(error, DataError) and error.__cause__ else error
        return BadImage(path, str(cause) or type(cause).__name__)


def scan_images(listing: Listing, verify: VerifyMode, workers: int, fingerprints: bool) -> ImageScan:
    """Check each image `listing` names by `verify` (and fingerprint it for the duplicate check when
    `fingerprints`); a class of a split left without a readable image is a problem."""
    scan = ImageScan(listing.root, listing.kind, listing.class_names)
    scan.problems.extend(listing.problems)
    scan.not_images = list(listing.not_images)
    full = verify is VerifyMode.full
    every_path = list(dict.fromkeys(path for samples in listing.candidates.values() for path, _ in samples))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(lambda path: image_problem(path, full, fingerprints), every_path)
        # One bar, from the first process only (every DDP process scans), and none when output is not a terminal.
        quiet = True if rank_zero_only.rank != 0 else None
        bar = tqdm(results, total=len(every_path), desc=f"Checking images ({verify.name})", unit="img", disable=quiet)
        found = list(bar)
    bad = {result.path: result for result in found if isinstance(result, BadImage)}
    scan.bad_images = [bad[path] for path in every_path if path in bad]
    facts = {path: result for path, result in zip(every_path, found, strict=True) if isinstance(result, ImageFacts)}
    scan.image_sizes = {path: fact.size for path, fact in facts.items()}
    if fingerprints:
        scan.fingerprints = {path: fact.fingerprint for path, fact in facts.items() if fact.fingerprint is not None}

    for split, samples in listing.candidates.items():
        scan.samples[split] = [sample for sample in samples if sample[0] not in bad]
        listed, readable = labels_present(samples), labels_present(scan.samples[split])
        for label in sorted(listed - readable):
            scan.problems.append(f"{listing.where(split, listing.class_names[label])} has no readable images.")
    return scan


def labels_present(samples: list[Sample]) -> set[int]:
    """The class indices that label at least one of `samples`."""
    present: set[int] = set()
    for _, label in samples:
        present.update(label if isinstance(label, tuple) else (label,))
    return present


def scan_folder(root: Path, verify: VerifyMode, workers: int, fingerprints: bool) -> ImageScan:
    """Scan `root/{train,val,test}/<class>/...` (see `list_folder`)."""
    return scan_images(list_folder(root), verify, workers, fingerprints)


def examples(paths: list[str]) -> str:
    shown = ", ".join(paths[:EXAMPLES_SHOWN])
    return shown + (f" and {len(paths) - EXAMPLES_SHOWN} more" if len(paths) > EXAMPLES_SHOWN else "")


def raise_for_problems(scan: ImageScan, on_bad_image: BadImagePolicy, hint: str = "") -> None:
    """One DataError naming every layout problem and (unless skipping) every unreadable image; `hint` ends
    it (where a table's relative paths start, say)."""
    bad_images = scan.bad_images and on_bad_image is BadImagePolicy.error
    if len(scan.problems) == 1 and not bad_images:  # one problem: one line, as the user reads it
        raise DataError(scan.problems[0])
    lines = [f"- {problem}" for problem in scan.problems]
    if bad_images:
        lines.append(f"- {len(scan.bad_images)} image file(s) cannot be read:")
        lines.extend(f"    {bad.path}: {bad.reason}" for bad in scan.bad_images)
        lines.append(
            "Replace or delete the unreadable files, or set data.on_bad_image=skip to train without them "
            "(they are then listed in the run directory, skipped_images.csv)."
        )
    if lines:
        what = "The image folder" if scan.kind == "folder" else "The label table"
        raise DataError(f"{what} {scan.root} has problems:\n" + "\n".join(lines) + (f"\n{hint}" if hint else ""))
