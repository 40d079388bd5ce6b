"""Folders that appear whole or not at all: written beside their final name, renamed into place when complete.

A process killed half way leaves only a `.partial-*` sibling, which the next writer removes; a reader never
sees a folder that looks done but is not. Used by the extracted archives, the CIFAR-10 splits, the generated
datasets and the decoded-image cache.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def staged_folder(final: Path, hidden: bool = True) -> Iterator[Path]:
    """An empty folder beside `final` to write into, renamed to `final` (replacing it) when the block ends without
    an error and removed otherwise. Callers hold a lock against concurrent writers, so the staging folders of an
    earlier writer that was killed are removed first. `hidden`: named `.<final>.partial-*` (else without the dot).

    Example::

        with staged_folder(root / "train") as staging:
            write_images(staging)
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    prefix = f"{'.' if hidden else ''}{final.name}.partial-"
    for stale in final.parent.glob(f"{prefix}*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=prefix))
    try:
        yield staging
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
