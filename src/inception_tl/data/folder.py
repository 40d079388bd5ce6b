"""Read an ImageFolder-style tree: `<root>/<split>/<class>/<image>`."""

from __future__ import annotations

from pathlib import Path

from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

from inception_tl.errors import DataError

SPLITS = ("train", "val", "test")

Sample = tuple[str, int]


def find_class_names(split_dir: Path) -> list[str]:
    """Sorted class folder names; hidden folders and archive debris such as `__MACOSX` are skipped."""
    if not split_dir.is_dir():
        raise DataError(f"Expected a folder of class sub-folders at {split_dir}, but it does not exist.")
    names = sorted(
        entry.name for entry in split_dir.iterdir() if entry.is_dir() and not entry.name.startswith((".", "__"))
    )
    if not names:
        raise DataError(f"{split_dir} has no class sub-folders; expected {split_dir}/<class>/<image files>.")
    return names


def list_samples(split_dir: Path, class_names: list[str]) -> list[Sample]:
    """(path, label) pairs for every image in `split_dir`, labels indexing `class_names`."""
    found = find_class_names(split_dir)
    if found != class_names:
        raise DataError(
            f"The classes in {split_dir} differ from those in the training split.\n"
            f"  training: {class_names}\n  {split_dir.name}: {found}\n"
            f"Every split must have the same class folders."
        )
    class_to_idx = {name: index for index, name in enumerate(class_names)}
    try:
        return make_dataset(str(split_dir), class_to_idx, extensions=IMG_EXTENSIONS)
    except FileNotFoundError as error:
        raise DataError(f"{split_dir}: {error}") from error
