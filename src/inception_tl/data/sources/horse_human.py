"""Horse-or-human (Laurence Moroney): 1,027 training and 256 validation images of 300 x 300, two classes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from filelock import FileLock

from inception_tl.data.sources.download import RemoteFile, fetch
from inception_tl.data.sources.extract import extract_zip
from inception_tl.errors import DownloadError


class HorseHuman:
    """Download, verify and extract the two official zips into `root/train` and `root/test`.

    The official validation archive becomes the test split; model selection uses a stratified
    split carved from the training set (see `data.val_split`).
    """

    def __init__(self, train: RemoteFile | Mapping, test: RemoteFile | Mapping, download_dir: str) -> None:
        self.archives = {"train": RemoteFile.from_config(train), "test": RemoteFile.from_config(test)}
        self.download_dir = Path(download_dir).expanduser()

    def prepare(self, root: Path) -> None:
        for split, remote in self.archives.items():
            if (root / split).is_dir():
                continue
            # Two processes (DDP ranks, parallel runs) may arrive here at once: one extracts, the other waits.
            with FileLock(str(self.download_dir / f".{remote.filename}.lock")):
                if (root / split).is_dir():
                    continue
                extract_zip(self._fetch(remote, root), root / split)

    def _fetch(self, remote: RemoteFile, root: Path) -> Path:
        try:
            return fetch(remote, self.download_dir)
        except DownloadError as error:
            raise DownloadError(
                f"{error}\nTo prepare horse-or-human without a download, either\n"
                f"  - put {self.archives['train'].filename} and {self.archives['test'].filename} "
                f"into {self.download_dir}, or\n"
                f"  - extract them yourself so that {root}/train/{{horses,humans}} and "
                f"{root}/test/{{horses,humans}} exist, and pass data.root=<that folder>."
            ) from error
