"""Which checkpoint a run resumes from, and whether it can: checked before any data is read or model built.

Without these checks a checkpoint of another backbone or class count fails deep inside
`load_state_dict` with hundreds of missing keys or a size mismatch, after the data was scanned and the
pretrained weights fetched.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from inception_tl.errors import ConfigError


def resolve_checkpoint(ckpt_path: str | None, output_dir: Path) -> str | None:
    """`last`: the newest `*/checkpoints/last.ckpt` among this task's earlier runs (siblings of this run)."""
    if ckpt_path is None:
        return None
    if ckpt_path != "last":
        if not Path(ckpt_path).is_file():
            raise ConfigError(f"ckpt_path={ckpt_path!r} is not a file. Pass a checkpoint, or ckpt_path=last.")
        return ckpt_path
    runs = output_dir.parent
    candidates = [
        path for path in runs.glob("*/checkpoints/last.ckpt") if path.parents[1].resolve() != output_dir.resolve()
    ]
    if not candidates:
        raise ConfigError(
            f"ckpt_path=last: no earlier run under {runs} has checkpoints/last.ckpt. Pass the path of a checkpoint."
        )
    return str(max(candidates, key=lambda path: path.stat().st_mtime))


def checkpoint_hyperparameters(ckpt_path: str) -> dict[str, Any]:
    """The hyperparameters a training run saved in `ckpt_path`, read without building anything.

    `mmap` leaves the weights on disk; `weights_only` refuses anything but tensors and plain containers.
    """
    try:
        checkpoint = torch.load(ckpt_path, map_location="cpu", mmap=True, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError) as error:
        raise ConfigError(
            f"ckpt_path={ckpt_path} cannot be read as a checkpoint ({type(error).__name__}: {error}). "
            "It may be truncated or not a checkpoint written by train.py."
        ) from error
    hyperparameters = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    if not hyperparameters or "backbone" not in hyperparameters or "class_names" not in hyperparameters:
        raise ConfigError(
            f"ckpt_path={ckpt_path} is not a checkpoint written by train.py (it has no training hyperparameters). "
            "To start from a file of backbone weights instead, use backbone.weights=PATH."
        )
    return dict(hyperparameters)


def check_same_backbone(hyperparameters: dict[str, Any], backbone: str, ckpt_path: str) -> None:
    saved = hyperparameters["backbone"]["name"]
    if saved != backbone:
        raise ConfigError(
            f"ckpt_path={ckpt_path} holds a {saved} but this run is configured for backbone={backbone}. "
            f"Resume with backbone={saved}, or start a new run without ckpt_path."
        )


def check_same_classes(hyperparameters: dict[str, Any], class_names: Sequence[str], ckpt_path: str) -> None:
    saved = list(hyperparameters["class_names"])
    if saved != list(class_names):
        raise ConfigError(
            f"ckpt_path={ckpt_path} was trained on {len(saved)} classes {saved}, but the configured data has "
            f"{len(class_names)} classes {list(class_names)}. Resume with the data it was trained on, or start "
            "a new run without ckpt_path."
        )
