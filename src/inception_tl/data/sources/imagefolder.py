"""The user's own folder of images."""

from __future__ import annotations

from pathlib import Path

from inception_tl.errors import DataError


class ImageFolder:
    """A folder the user already has: `root/train/<class>/...`, optional `root/val` and `root/test`.

    Nothing to download; what is inside is checked by the data module's scan, which reports every
    problem at once.
    """

    def prepare(self, root: Path) -> None:
        if not root.is_dir():
            raise DataError(
                f"data.root={root} does not exist. Point data.root at a folder laid out as "
                f"train/<class>/<images>, with optional val/ and test/ beside train/."
            )
