"""The user's own folder of images."""

from __future__ import annotations

from pathlib import Path

from inception_tl.errors import DataError


class ImageFolder:
    """A folder the user already has: `root/train/<class>/...`, optional `root/val` and `root/test`."""

    def prepare(self, root: Path) -> None:
        if not (root / "train").is_dir():
            raise DataError(
                f"No training images at {root / 'train'}. Point data.root at a folder laid out as "
                f"train/<class>/<images>, with optional val/ and test/ beside train/."
            )
