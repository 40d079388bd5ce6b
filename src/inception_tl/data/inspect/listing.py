"""What a dataset says it holds, before any image is opened: the class names and each split's candidate images
with their labels. Two listings: class folders (`list_folder`) and a label table (`table.py`); the scan then
checks every image either names, so both report their problems the same way, at once."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from torchvision.datasets.folder import IMG_EXTENSIONS

SPLITS = ("train", "val", "test")

# A label: one class index, or (multi-label) the sorted class indices an image carries.
Label = int | tuple[int, ...]
Sample = tuple[str, Label]


@dataclass
class Listing:
    """The candidates of a dataset and what is wrong with how it is laid out or written down.

    `root`: what was listed (the image folder or the label table), for messages. `candidates[split]`: (path,
    label) in a canonical order (classes, then paths), so the same data listed either way splits alike.
    """

    root: Path
    kind: str  # "folder" or "table": how `where` names a class of a split
    class_names: list[str] = field(default_factory=list)
    candidates: dict[str, list[Sample]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    not_images: list[str] = field(default_factory=list)

    def where(self, split: str, name: str) -> str:
        """Where the images of class `name` in `split` come from, in the user's terms."""
        if self.kind == "folder":
            return str(self.root / split / name)
        return f"label {name!r} in the {split} rows of {self.root}"


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


def class_problems(
    split_classes: dict[str, list[str]], describe: Callable[[str], str], unit: str, train: str
) -> list[str]:
    """A single training class, and classes of val/test that differ from train's. `describe(split)` names a
    split's images in the user's terms (a folder, or the rows of a table), `train` the training split shortly;
    `unit` is what holds a class there."""
    problems = []
    train_classes = split_classes.get("train") or []
    if len(train_classes) == 1:
        problems.append(
            f"{describe('train')} has a single {unit}; a classifier needs at least two classes to choose from."
        )
    for split, classes in split_classes.items():
        if split == "train" or not classes or not train_classes or classes == train_classes:
            continue
        missing = sorted(set(train_classes) - set(classes))
        extra = sorted(set(classes) - set(train_classes))
        detail = "; ".join(
            part
            for part in (f"missing {missing}" if missing else "", f"not in {train}: {extra}" if extra else "")
            if part
        )
        problems.append(f"the classes of {describe(split)} differ from those of {describe('train')}: {detail}.")
    return problems


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
    return problems + class_problems(split_classes, lambda split: f"{root / split}", "class folder", "train/")


def list_folder(root: Path) -> Listing:
    """`root/{train,val,test}/<class>/...`: every split, class folder and file; class names from train/.

    Everything is walked even when the layout is wrong, so one run reports every problem there is.
    """
    listing = Listing(root=root, kind="folder")
    split_classes = {split: subfolders(root / split) for split in SPLITS if (root / split).is_dir()}
    listing.problems.extend(layout_problems(root, split_classes))
    listing.class_names = split_classes.get("train") or []
    labels = {name: index for index, name in enumerate(listing.class_names)}
    for split, classes in split_classes.items():
        for name in classes:
            paths = []
            for path in files_under(root / split / name):
                if path.suffix.lower() in IMG_EXTENSIONS:
                    paths.append(str(path))
                else:
                    listing.not_images.append(str(path))
            if not paths:
                listing.problems.append(f"{root / split / name} has no images.")
            if name in labels:  # a class folder absent from train/ gets no label
                listing.candidates.setdefault(split, []).extend((path, labels[name]) for path in paths)
    return listing
