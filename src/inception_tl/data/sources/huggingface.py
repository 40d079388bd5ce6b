"""data=hf: a Hugging Face data set (a hub name, local parquet files, or a folder `save_to_disk` wrote), through the
`datasets` library, written once as an ImageFolder tree so that everything after the listing (the scan, splits,
duplicate check, decode-once cache, report) works as for the user's own folder.

The images are written as the data set holds them (the original JPEG or PNG bytes, not re-encoded), named
`<split>/<class>/<split>-<row>.<ext>`: a bad image is named by its split and row. Class names come from the label
column's `ClassLabel` names, else from the sorted label values.

Multi-label (data.multi_label=true, a list-valued label column): class folders cannot hold an image of several
classes, so the images go to `<split>/<split>-<row>.<ext>` and their labels to `labels.csv` (path, label, split), read
as data=csv reads a user's table.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from inception_tl.console import loggers_at
from inception_tl.data.sources.generated import GeneratedFolder
from inception_tl.errors import ConfigError, DataError, require_extra

# Our split names, and the data set's split names each is read from by default.
DEFAULT_SPLITS = {"train": "train", "val": "validation", "test": "test"}
# The multi-label table, in the folder the source writes.
LABELS_TABLE = "labels.csv"


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
        multi_label: bool,
        label_separator: str,
    ) -> None:
        self.path, self.config_name, self.revision = path, name, revision
        self.image_column, self.label_column = image_column, label_column
        self.splits = dict(splits or DEFAULT_SPLITS)
        self.multi_label, self.label_separator = multi_label, label_separator
        self.params = {"path": path, "name": name, "revision": revision, "image_column": image_column,
                       "label_column": label_column, "splits": self.splits, "multi_label": multi_label,
                       "label_separator": label_separator}

    @property
    def labels_table(self) -> str | None:
        """The CSV of labels this source writes in its folder (multi-label), which the data module reads."""
        return LABELS_TABLE if self.multi_label else None

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
                with loggers_at(logging.ERROR, "huggingface_hub", "datasets"):  # retries' warnings: the error says it
                    found = datasets.load_dataset(self.path, self.config_name, revision=self.revision)
        except (FileNotFoundError, ValueError, ConnectionError, OSError) as error:
            reason = str(error).splitlines()[0]
            hint = ""
            if "OfflineModeIsEnabled" in reason:
                hint = (" HF_HUB_OFFLINE is set, so only data sets in the local cache load: unset it where there is "
                        "a network, or give a folder the data set was saved to (save_to_disk or to_parquet).")
            elif "reach" in reason or isinstance(error, ConnectionError):
                hint = (" Without a network, load it where there is one, save it (save_to_disk or to_parquet) and "
                        "give that folder.")
            raise DataError(f"data.source.path={self.path!r} cannot be loaded with datasets: {reason}.{hint}") from None
        return found if isinstance(found, datasets.DatasetDict) else datasets.DatasetDict({"train": found})

    def write(self, folder: Path) -> None:
        found = self.load()
        if self.splits["train"] not in found:
            raise DataError(f"{self.path} has no split {self.splits['train']!r} for training (it has "
                            f"{sorted(found)}): map one with data.source.splits.train=<name>.")
        rows: list[tuple[str, str, str]] = []
        for ours, theirs in self.splits.items():
            if theirs in found:
                rows += self.write_split(found[theirs], ours, theirs, folder)
        if self.multi_label:
            with open(folder / LABELS_TABLE, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["path", "label", "split"])
                writer.writerows(rows)

    def write_split(self, split: Any, ours: str, theirs: str, folder: Path) -> list[tuple[str, str, str]]:
        """The split's images, in class folders or (multi-label) in one folder with a table row each."""
        import datasets

        for column in (self.image_column, self.label_column):
            if column not in split.column_names:
                raise DataError(f"{self.path} split {theirs!r} has no column {column!r} (it has "
                                f"{split.column_names}): set data.source.image_column / label_column.")
        feature = split.features[self.label_column]
        listed = isinstance(feature, (datasets.List, datasets.LargeList))
        if listed and not self.multi_label:
            raise DataError(f"{self.path} column {self.label_column!r} holds several labels per image ({feature}): "
                            "add data.multi_label=true to train a sigmoid per label.")
        names = label_names(feature.feature if listed else feature)
        split = split.cast_column(self.image_column, datasets.Image(decode=False))
        rows, unlabelled = [], []
        for row, example in enumerate(split):
            label = example[self.label_column]
            values = label if listed else [label]
            # A ClassLabel's -1 (and a None) is "no label": hub data sets mark their unlabelled test splits so.
            if not values or any(value is None or (names and value < 0) for value in values):
                unlabelled.append(row)
                continue
            labels = [names[value] if names else str(value) for value in values]
            if not self.multi_label:
                target = folder / ours / safe_name(labels[0])
                target.mkdir(parents=True, exist_ok=True)
                write_image(example[self.image_column], target / f"{ours}-{row:07d}")
                continue
            clashing = [name for name in labels if self.label_separator in name]
            if clashing:
                raise DataError(f"{self.path} split {theirs!r} row {row}: label {clashing[0]!r} contains the label "
                                f"separator {self.label_separator!r}: set data.label_separator to a character no "
                                "label holds.")
            (folder / ours).mkdir(parents=True, exist_ok=True)
            path = write_image(example[self.image_column], folder / ours / f"{ours}-{row:07d}")
            rows.append((str(path.relative_to(folder)), self.label_separator.join(labels), ours))
        if unlabelled:
            shown = ", ".join(map(str, unlabelled[:10])) + (" ..." if len(unlabelled) > 10 else "")
            whole = (f" The whole split is unlabelled: leave it out with ~data.source.splits.{ours}."
                     if len(unlabelled) == len(split) else "")
            raise DataError(f"{self.path} split {theirs!r}: {len(unlabelled)} of {len(split)} row(s) have no label "
                            f"({shown}); each image needs one.{whole} Otherwise drop those rows (datasets' "
                            "filter) and save the data set again.")
        return rows


def label_names(feature: Any) -> list[str] | None:
    """The ClassLabel's names, by which its integer values are read; None where the values are the names."""
    names = getattr(feature, "names", None)
    return list(names) if names else None


def safe_name(name: str) -> str:
    return name.replace("/", "_").replace("\\", "_") or "_"


def write_image(image: Mapping[str, Any], stem: Path) -> Path:
    """The image's own bytes, with the extension of its format; an unreadable one is written as it is (the scan
    names it by split and row). Returns the file written."""
    data = image.get("bytes")
    if data is None and image.get("path"):
        data = Path(image["path"]).read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as opened:
            suffix = "." + (opened.format or "png").lower().replace("jpeg", "jpg")
    except Exception:  # PIL raises several types for bytes that are no image: the scan reports it
        suffix = ".png"
    stem.with_suffix(suffix).write_bytes(data or b"")
    return stem.with_suffix(suffix)
