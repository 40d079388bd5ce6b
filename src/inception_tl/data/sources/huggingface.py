"""data=hf: a Hugging Face data set (a hub name, local parquet files, or a folder `save_to_disk` wrote), through the
`datasets` library, written once as an ImageFolder tree so that everything after the listing (the scan, splits,
duplicate check, decode-once cache, report) works as for the user's own folder.

The images are written as the data set holds them (the original JPEG or PNG bytes, not re-encoded), named
`<split>/<class>/<split>-<row>.<ext>`: a bad image is named by its split and row. Class names come from the label
column's `ClassLabel` names, else from the sorted label values.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from inception_tl.data.sources.generated import GeneratedFolder
from inception_tl.errors import ConfigError, DataError, require_extra

# Our split names, and the data set's split names each is read from by default.
DEFAULT_SPLITS = {"train": "train", "val": "validation", "test": "test"}


class HuggingFaceDataset(GeneratedFolder):
    name = "Hugging Face datasets"

    def __init__(
        self,
        path: str | None,
        name: str | None,
        image_column: str,
        label_column: str,
        splits: Mapping[str, str] | None,
        revision: str | None,
    ) -> None:
        self.path, self.config_name, self.revision = path, name, revision
        self.image_column, self.label_column = image_column, label_column
        self.splits = dict(splits or DEFAULT_SPLITS)
        self.params = {"path": path, "name": name, "revision": revision, "image_column": image_column,
                       "label_column": label_column, "splits": self.splits}

    def prepare(self, root: Path) -> None:
        if not self.path:
            raise ConfigError("data=hf needs data.source.path: a hub name (user/name), a folder of parquet files, "
                              "or a folder written by save_to_disk.")
        super().prepare(root)

    def load(self) -> Any:
        """The data set's splits (a DatasetDict): load_from_disk for a saved folder, else load_dataset."""
        require_extra("datasets", "hf", "data=hf")
        import datasets

        local = Path(self.path).expanduser()
        try:
            if local.is_dir() and ((local / "dataset_dict.json").is_file() or (local / "state.json").is_file()):
                found = datasets.load_from_disk(str(local))
            elif local.is_dir() and any(local.rglob("*.parquet")):
                files = sorted(str(p) for p in local.rglob("*.parquet"))
                by_split = {split: [f for f in files if Path(f).stem.split("-")[0] == split] for split in
                            {Path(f).stem.split("-")[0] for f in files}}
                found = datasets.load_dataset("parquet", data_files=by_split)
            else:
                found = datasets.load_dataset(self.path, self.config_name, revision=self.revision)
        except (FileNotFoundError, ValueError, ConnectionError, OSError) as error:
            raise DataError(f"data.source.path={self.path!r} cannot be loaded with datasets: "
                            f"{str(error).splitlines()[0]}") from None
        return found if isinstance(found, datasets.DatasetDict) else datasets.DatasetDict({"train": found})

    def write(self, folder: Path) -> None:
        import datasets

        found = self.load()
        if self.splits["train"] not in found:
            raise DataError(f"{self.path} has no split {self.splits['train']!r} for training (it has "
                            f"{sorted(found)}): map one with data.source.splits.train=<name>.")
        for ours, theirs in self.splits.items():
            if theirs not in found:
                continue
            split = found[theirs]
            for column in (self.image_column, self.label_column):
                if column not in split.column_names:
                    raise DataError(f"{self.path} split {theirs!r} has no column {column!r} (it has "
                                    f"{split.column_names}): set data.source.image_column / label_column.")
            feature = split.features[self.label_column]
            split = split.cast_column(self.image_column, datasets.Image(decode=False))
            names = class_names(feature, split[self.label_column])
            for row, example in enumerate(split):
                label = example[self.label_column]
                name = names[label] if isinstance(feature, datasets.ClassLabel) else str(label)
                target = folder / ours / safe_name(name)
                target.mkdir(parents=True, exist_ok=True)
                write_image(example[self.image_column], target / f"{ours}-{row:07d}")


def class_names(feature: Any, values: list[Any]) -> list[str]:
    """The ClassLabel's names, or the sorted label values."""
    names = getattr(feature, "names", None)
    return list(names) if names else sorted({str(value) for value in values})


def safe_name(name: str) -> str:
    return name.replace("/", "_").replace("\\", "_") or "_"


def write_image(image: Mapping[str, Any], stem: Path) -> None:
    """The image's own bytes, with the extension of its format; an unreadable one is written as it is (the scan
    names it by split and row)."""
    data = image.get("bytes")
    if data is None and image.get("path"):
        data = Path(image["path"]).read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as opened:
            suffix = "." + (opened.format or "png").lower().replace("jpeg", "jpg")
    except Exception:  # PIL raises several types for bytes that are no image: the scan reports it
        suffix = ".png"
    stem.with_suffix(suffix).write_bytes(data or b"")
