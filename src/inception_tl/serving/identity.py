"""A served model's name and version: the version is a digest of its weight files, so two servers answering with
the same version run the same weights."""

from __future__ import annotations

import hashlib
from pathlib import Path

from inception_tl.serving.api import ModelIdentity

WEIGHT_FILES = ("model.safetensors", "head.safetensors")


def weight_files(folder_or_file: Path) -> list[Path]:
    if folder_or_file.is_file():
        return [folder_or_file]
    return [folder_or_file / name for name in WEIGHT_FILES if (folder_or_file / name).is_file()]


def model_identity(local: Path, name: str | None) -> ModelIdentity:
    """`local`: the checkpoint file or the exported folder (a hub repository's downloaded snapshot)."""
    digest = hashlib.sha256()
    for path in weight_files(local):
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return ModelIdentity(name or default_name(local), "sha256:" + digest.hexdigest()[:12])


def default_name(local: Path) -> str:
    """An exported folder's name; a run's folder name for its `<run>/checkpoints/best.ckpt`; else the file's."""
    if local.is_dir():
        return local.name
    if local.parent.name == "checkpoints":
        return f"{local.parent.parent.name}/{local.stem}"
    return local.stem
