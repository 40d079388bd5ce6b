"""The shard index (`shards.json`, written by `shards.py` beside the shards): the classes, and each split's shards
with their sample counts. Streaming needs the counts before reading a byte: every DDP rank must run the same number
of steps, and each must know where its part of the epoch starts."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inception_tl.data.stream.opener import join_url, open_url
from inception_tl.errors import DataError

INDEX_NAME = "shards.json"
FORMAT = "inception_tl-shards/1"


@dataclass(frozen=True)
class ShardEntry:
    name: str  # relative to the index's location (or an absolute URL)
    count: int  # samples in the shard


@dataclass
class ShardIndex:
    classes: list[str]
    multi_label: bool
    splits: dict[str, list[ShardEntry]]
    counts: dict[str, dict[str, int]]  # split -> class -> images (an image with several labels counts for each)
    written_from: str = ""  # the data the shards were written from, in words
    train_shorter_side: int | None = None  # training images reduced to this shorter side when written; None: as is
    location: str = field(default="", compare=False)  # where the index was read from

    def urls(self, split: str) -> list[str]:
        return [join_url(self.location, entry.name) for entry in self.splits[split]]

    def shard_counts(self, split: str) -> list[int]:
        return [entry.count for entry in self.splits[split]]

    def total(self, split: str) -> int:
        return sum(self.shard_counts(split))

    def write(self, folder: Path) -> Path:
        record = {"format": FORMAT, **asdict(self)}
        record.pop("location")
        path = folder / INDEX_NAME
        path.write_text(json.dumps(record, indent=1))
        return path

    @classmethod
    def read(cls, location: str, retry_seconds: float = 30.0) -> ShardIndex:
        """The index at `location`: a folder or URL holding shards.json, or the index's own path or URL."""
        base, url = (location.rsplit("/", 1)[0], location) if location.endswith(".json") else (location, None)
        url = url or join_url(base, INDEX_NAME)
        try:
            with open_url(url, retry_seconds) as stream:
                record: dict[str, Any] = json.loads(stream.read())
        except json.JSONDecodeError as error:
            raise DataError(f"{url} is not a shard index (JSON): {error}.") from None
        except DataError as error:
            raise DataError(
                f"{error} data.source.url should name the folder or URL of the shards' {INDEX_NAME}, as "
                "shards.py writes it (python shards.py data=<your data> out=DIR)."
            ) from None
        if record.get("format") != FORMAT:
            raise DataError(f"{url} is not a shard index of this format ({FORMAT}): write it with shards.py.")
        splits = {split: [ShardEntry(**entry) for entry in entries] for split, entries in record["splits"].items()}
        if "train" not in splits:
            raise DataError(f"{url} lists no train split (it has {sorted(splits)}).")
        return cls(
            record["classes"],
            record["multi_label"],
            splits,
            record["counts"],
            record.get("written_from", ""),
            record.get("train_shorter_side"),
            base,
        )
