"""Extract a zip archive safely and atomically."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from inception_tl.data.staging import staged_folder
from inception_tl.errors import DataError


def _check_member(archive: Path, member: zipfile.ZipInfo) -> None:
    """Refuse members that could write outside the target folder ("zip slip") or create links."""
    name = PurePosixPath(member.filename.replace("\\", "/"))
    if name.is_absolute() or ".." in name.parts or (name.parts and ":" in name.parts[0]):
        raise DataError(f"Refusing to extract {archive}: member {member.filename!r} points outside the folder.")
    if stat.S_ISLNK(member.external_attr >> 16):
        raise DataError(f"Refusing to extract {archive}: member {member.filename!r} is a symbolic link.")


def extract_zip(archive: Path, destination: Path) -> Path:
    """Extract `archive` into `destination`, which must not exist yet.

    Members are checked first; extraction goes into a hidden sibling folder that is renamed to
    `destination` only when complete, so an interrupted run never leaves a folder that looks done.
    Callers hold a lock against concurrent preparation, so a staging folder found here was left by a
    killed process and is removed.
    """
    if destination.exists():
        raise DataError(f"Cannot extract {archive} into {destination}: the folder already exists.")
    try:
        with staged_folder(destination) as staging, zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                _check_member(archive, member)
            zf.extractall(staging)
    except zipfile.BadZipFile as error:
        raise DataError(f"{archive} is not a valid zip archive ({error}). Delete it and run again.") from error
    return destination
