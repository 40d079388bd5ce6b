"""The validation and test shards, copied once into a local folder: they are scored in full at every validation
and at the end (each image once, named in the report and the figures), which the folder machinery already does
(the scan, the duplicate check, the decoded-image cache, evaluation sharded over the ranks without repeats). They
are small beside the training split, which streams."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from inception_tl.data.inspect.listing import Listing, Sample
from inception_tl.data.sources.generated import GeneratedFolder
from inception_tl.data.stream.index import ShardIndex
from inception_tl.data.stream.reader import BadSampleError, shard_samples

EVALUATION_SPLITS = ("val", "test")
LABELS_FILE = "labels.json"


def copy_folder(root: Path, index: ShardIndex) -> Path:
    """Where the copy of these shards lives under `root`: one folder per index location."""
    return root / hashlib.sha256(index.location.encode()).hexdigest()[:16]


class EvaluationCopy(GeneratedFolder):
    """`<split>/<key>.<ext>` for each validation and test sample, and `labels.json`: each split's (path, label)
    and the samples that could not be placed (no image, or no label), with why."""

    name = "stream's evaluation copy"

    def __init__(self, index: ShardIndex, retry_seconds: float) -> None:
        self.index, self.retry_seconds = index, retry_seconds
        self.params = {
            "location": index.location,
            "splits": {split: [asdict(entry) for entry in index.splits.get(split, [])] for split in EVALUATION_SPLITS},
        }

    def write(self, folder: Path) -> None:
        samples: dict[str, list[tuple[str, object]]] = {}
        skipped: list[tuple[str, str]] = []
        classes, multi_label = len(self.index.classes), self.index.multi_label
        for split in EVALUATION_SPLITS:
            if split not in self.index.splits:
                continue
            (folder / split).mkdir()
            samples[split] = []
            for url in self.index.urls(split):
                for sample in shard_samples(url, self.retry_seconds):
                    try:
                        label = sample.label(classes, multi_label)
                        extension, data = sample.image()
                    except BadSampleError as bad:
                        skipped.append((sample.name, str(bad)))
                        continue
                    relative = f"{split}/{sample.key}.{extension}"
                    (folder / relative).write_bytes(data)
                    samples[split].append((relative, label))
        (folder / LABELS_FILE).write_text(json.dumps({"samples": samples, "skipped": skipped}))

    @staticmethod
    def listing(folder: Path, class_names: list[str]) -> tuple[Listing, list[tuple[str, str]]]:
        """The copy as a listing the scan takes (no training candidates: they stream), and the samples skipped."""
        record = json.loads((folder / LABELS_FILE).read_text())
        candidates: dict[str, list[Sample]] = {"train": []}
        for split, pairs in record["samples"].items():
            candidates[split] = [
                (str(folder / path), tuple(label) if isinstance(label, list) else label) for path, label in pairs
            ]
        listing = Listing(root=folder, kind="folder", class_names=class_names, candidates=candidates)
        return listing, [tuple(pair) for pair in record["skipped"]]
