"""The samples of one shard, in order: WebDataset's tar layout (`<key>.<image ext>` with `<key>.cls` or
`<key>.json`), read as a stream by WebDataset's own tar iteration and grouping by key, then decoded and checked."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from inception_tl.data.store import StorageSpec
from inception_tl.data.stream.opener import open_url
from inception_tl.errors import DataError

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "bmp", "ppm", "tif", "tiff", "gif")


class BadSampleError(Exception):
    """A sample that cannot train: its image does not decode, or its label is missing or not a class."""


@dataclass(frozen=True)
class RawSample:
    """A sample as the shard holds it: its key, its fields' bytes by extension, and the shard it came from."""

    key: str
    fields: dict[str, bytes]
    shard: str

    @property
    def name(self) -> str:
        """How reports name it: the shard's URL and the sample's key."""
        return f"{self.shard}#{self.key}"

    def image(self) -> tuple[str, bytes]:
        """(extension, bytes) of the sample's image file."""
        for extension in IMAGE_EXTENSIONS:
            if extension in self.fields:
                return extension, self.fields[extension]
        raise BadSampleError(f"no image (.jpg, .png, ...) among its files {sorted(self.fields)}")

    def label(self, classes: int, multi_label: bool) -> int | tuple[int, ...]:
        """The class index (`.cls`, or `label` in `.json`), or for multi-label the indices (`labels` in `.json`)."""
        if "cls" in self.fields:
            text = self.fields["cls"].decode().strip()
            values = [int(part) for part in text.replace(";", ",").split(",") if part.strip()] if text else []
        elif "json" in self.fields:
            record = json.loads(self.fields["json"])
            found = record.get("labels", record.get("label")) if isinstance(record, dict) else record
            values = [] if found is None else list(found) if isinstance(found, list) else [found]
        else:
            raise BadSampleError("no label (.cls or .json)")
        if not values and not multi_label:
            raise BadSampleError("an empty label")
        wrong = [value for value in values if not isinstance(value, int) or not 0 <= value < classes]
        if wrong:
            raise BadSampleError(f"label {wrong[0]!r} is not a class index (0 to {classes - 1})")
        return tuple(sorted(set(values))) if multi_label else values[0]

    def decode(self, spec: StorageSpec) -> np.ndarray:
        try:
            return spec.decode(io.BytesIO(self.image()[1]))
        except DataError as error:
            raise BadSampleError(f"the image does not decode ({str(error).split(': ', 1)[-1]})") from None


def shard_samples(url: str, retry_seconds: float) -> Iterator[RawSample]:
    """The shard's samples in order (files grouped by key, WebDataset's `__key__` rule: the name up to the first
    dot of its last path part); a shard that ends early or is not a tar is a DataError naming it."""
    from webdataset.tariterators import group_by_keys, tar_file_iterator

    with open_url(url, retry_seconds) as stream:
        try:
            files = ({**file, "__url__": url} for file in tar_file_iterator(stream))
            for sample in group_by_keys(files):
                fields = {name: value for name, value in sample.items() if not name.startswith("__")}
                yield RawSample(sample["__key__"], fields, url)
        except (tarfile.TarError, OSError, EOFError, ValueError) as error:
            raise DataError(f"Cannot read shard {url}: {error}. Is it a tar file, written whole?") from None
