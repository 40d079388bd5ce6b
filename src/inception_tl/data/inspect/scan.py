"""Check an image folder before training and report every problem at once.

torchvision's `ImageFolder` stops at the first missing folder and a corrupt image surfaces only when a
DataLoader worker reaches it, mid-epoch, as a stack trace. This scan walks the whole tree first: layout
problems and unreadable images are collected and reported together, files that are not images are
counted (never silently), and bad images are either an error listing each one or, when the user asks
for it, dropped and listed.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lightning.pytorch.utilities.rank_zero import rank_zero_only
from PIL import Image
from torchvision.datasets.folder import IMG_EXTENSIONS
from tqdm.auto import tqdm

from inception_tl.data.inspect.fingerprint import Fingerprint, fingerprint
from inception_tl.data.options import BadImagePolicy, VerifyMode
from inception_tl.data.store.decode import load_rgb
from inception_tl.errors import DataError

SPLITS = ("train", "val", "test")
EXAMPLES_SHOWN = 5

Sample = tuple[str, int]


@dataclass(frozen=True)
class BadImage:
    path: str
    reason: str


@dataclass
class FolderScan:
    """What a folder holds: the usable samples per split and everything that was wrong or left out."""

    root: Path
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
    except Exception as error:
        cause = error.__cause__ if isinstance(error, DataError) and error.__cause__ else error
        return BadImage(path, str(cause) or type(cause).__name__)


def subfolders(folder: Path) -> list[str]:
    """Sorted sub-folder names; hidden folders and archive debris such as `__MACOSX` are skipped."""
    return sorted(e.name for e in folder.iterdir() if e.is_dir() and not e.name.startswith((".", "__")))


def files_under(folder: Path) -> list[Path]:
    """Every non-hidden file below `folder`, sorted (nested folders included, as ImageFolder)."""
    found = []
    for directory, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "__"))]  # pruned in place: not walked
        found.extend(Path(directory) / name for name in filenames if not name.startswith("."))
    return sorted(found)


def layout_problems(root: Path, split_classes: dict[str, list[str]]) -> list[str]:
    """Missing or empty split folders and classes that differ from the training split's."""
    problems = []
    if not (root / "train").is_dir():
        problems.append(
            f"no training split: {root / 'train'} does not exist. Expected {root}/train/<class>/<images>, "
            "with optional val/ and test/ beside train/."
        )
    for split, classes in split_classes.items():
        if not classes:
            problems.append(f"{root / split} has no class folders; expected {root / split}/<class>/<images>.")
    if len(split_classes.get("train") or []) == 1:
        problems.append(
            f"{root / 'train'} has a single class folder; a classifier needs at least two classes to choose from."
        )
    train = split_classes.get("train") or []
    for split, classes in split_classes.items():
        if split == "train" or not classes or not train or classes == train:
            continue
        missing = sorted(set(train) - set(classes))
        extra = sorted(set(classes) - set(train))
        detail = "; ".join(
            part
            for part in (f"missing {missing}" if missing else "", f"not in train/: {extra}" if extra else "")
            if part
        )
        problems.append(f"the classes of {root / split} differ from those of {root / 'train'}: {detail}.")
    return problems


def scan_folder(root: Path, verify: VerifyMode, workers: int, fingerprints: bool) -> FolderScan:
    """Scan `root/{train,val,test}/<class>/...`: every split, class and file, each image checked by `verify`
    (and fingerprinted for the duplicate check when `fingerprints`).

    Everything is walked even when the layout is wrong, so one run reports every problem there is.
    """
    scan = FolderScan(root=root)
    split_classes = {split: subfolders(root / split) for split in SPLITS if (root / split).is_dir()}
    scan.problems.extend(layout_problems(root, split_classes))
    scan.class_names = split_classes.get("train") or []
    labels = {name: index for index, name in enumerate(scan.class_names)}

    # (split, class folder) -> image paths; a class folder absent from train/ gets no label.
    candidates: dict[tuple[str, str], list[str]] = {}
    for split, classes in split_classes.items():
        for name in classes:
            paths = candidates.setdefault((split, name), [])
            for path in files_under(root / split / name):
                if path.suffix.lower() in IMG_EXTENSIONS:
                    paths.append(str(path))
                else:
                    scan.not_images.append(str(path))

    full = verify is VerifyMode.full
    every_path = [path for paths in candidates.values() for path in paths]
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

    for (split, name), paths in candidates.items():
        good = [path for path in paths if path not in bad]
        if not good:
            kind = "readable images" if paths else "images"
            scan.problems.append(f"{root / split / name} has no {kind}.")
        if name in labels:
            scan.samples.setdefault(split, []).extend((path, labels[name]) for path in good)
    return scan


def examples(paths: list[str]) -> str:
    shown = ", ".join(paths[:EXAMPLES_SHOWN])
    return shown + (f" and {len(paths) - EXAMPLES_SHOWN} more" if len(paths) > EXAMPLES_SHOWN else "")


def raise_for_problems(scan: FolderScan, on_bad_image: BadImagePolicy) -> None:
    """One DataError naming every layout problem and (unless skipping) every unreadable image."""
    lines = [f"- {problem}" for problem in scan.problems]
    if scan.bad_images and on_bad_image is BadImagePolicy.error:
        lines.append(f"- {len(scan.bad_images)} image file(s) cannot be read:")
        lines.extend(f"    {bad.path}: {bad.reason}" for bad in scan.bad_images)
        lines.append(
            "Replace or delete the unreadable files, or set data.on_bad_image=skip to train without them "
            "(they are then listed in the run directory, skipped_images.csv)."
        )
    if lines:
        raise DataError(f"The image folder {scan.root} has problems:\n" + "\n".join(lines))
