"""A folder a generator writes once (the shapes datasets' base class)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path

from filelock import FileLock

from inception_tl.data.staging import staged_folder
from inception_tl.errors import DataError

# The generator's parameters, kept in the folder it wrote: the same parameters find it in place.
MARKER = ".shapes.json"


class GeneratedFolder(ABC):
    """A folder a generator writes once: the same parameters find it in place (a marker file holds them), other
    parameters write it anew, concurrent processes wait for one another (a file lock), a half-written folder
    never appears (written beside it, then renamed), and a folder the generator did not write is never touched.
    Subclasses set `name` and `params` and write their files in `write`."""

    name = "generator"
    params: dict[str, object]

    def prepare(self, root: Path) -> None:
        root.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(root.parent / f".{root.name}.lock")):
            marker = root / MARKER
            if marker.is_file() and json.loads(marker.read_text()) == self.params:
                return
            if root.exists() and not marker.is_file() and any(root.iterdir()):
                raise DataError(
                    f"{root} exists and was not written by the {self.name} generator; refusing to overwrite it. "
                    "Choose another data.root."
                )
            # An older generation with other parameters is ours to replace.
            with staged_folder(root) as staging:
                self.write(staging)
                (staging / MARKER).write_text(json.dumps(self.params))

    @abstractmethod
    def write(self, folder: Path) -> None:
        """Write the generated files into `folder` (empty; renamed into place afterwards)."""
