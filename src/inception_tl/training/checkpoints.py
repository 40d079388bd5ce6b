"""Reading checkpoints: one reader for every task, and the checks a resumed run makes before it starts.

Every task reads a checkpoint through `read_checkpoint`: tensors and plain values only (`weights_only`),
so a file carrying other Python objects is refused before any of its code could run, and whatever is
wrong with the file (not a checkpoint, truncated, foreign objects) is one line naming it, not a stack
trace from inside torch nor torch's advice to retry with `weights_only=False` (`models.loading` builds a
model from what it returns).

The resume checks stop a checkpoint of another backbone or class count before the data is scanned and
the weights fetched; without them it fails deep inside `load_state_dict` with hundreds of missing keys.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from inception_tl.errors import ConfigError
from inception_tl.training.checkpoint_io import AtomicCheckpointIO

ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive


def read_checkpoint(ckpt_path: str | Path | None) -> dict[str, Any]:
    """The checkpoint at `ckpt_path` as tensors and plain values; ConfigError naming the file if it is not one
    that train.py wrote. `mmap` leaves the weights on disk until they are used."""
    path = Path(ckpt_path) if ckpt_path else None
    if path is None or not path.is_file():
        raise ConfigError(
            f"ckpt_path={ckpt_path!r} is not a file. Pass a checkpoint, e.g. ckpt_path=outputs/.../best.ckpt."
        )
    with open(path, "rb") as handle:
        magic = handle.read(len(ZIP_MAGIC))
    if magic != ZIP_MAGIC:
        raise ConfigError(
            f"ckpt_path={path} is not a checkpoint: torch.save writes a zip archive, this file is not one."
        )
    if not zipfile.is_zipfile(path):
        raise ConfigError(f"ckpt_path={path} is truncated or damaged (its zip directory is missing): copy it again.")
    try:
        checkpoint = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        what = f" ({found.group(1)})" if found else ""
        raise ConfigError(
            f"ckpt_path={path} holds Python objects other than tensors and plain values{what}; it was refused "
            "without running any of them. Checkpoints written by train.py hold none: use one of those."
        ) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"ckpt_path={path} cannot be read as a checkpoint: {first_line}") from None
    hyperparameters = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    if not hyperparameters or "backbone" not in hyperparameters or "class_names" not in hyperparameters:
        raise ConfigError(
            f"ckpt_path={path} is not a checkpoint written by train.py (it has no training hyperparameters). "
            "To start from a file of backbone weights instead, use backbone.weights=PATH."
        )
    return checkpoint


# What evaluation, prediction and export read from best.ckpt; the rest (the optimizer's moments, the schedulers,
# the callbacks' and loops' states, EMA's copy of the trained weights) is for resuming, which last.ckpt serves.
EVALUATION_KEYS = ("state_dict", "hyper_parameters", "epoch", "global_step", "pytorch-lightning_version")


def finish_best_checkpoint(ckpt_path: str | Path, **values: Any) -> None:
    """Rewrite best.ckpt with what evaluation reads and these hyperparameters set (the temperature or thresholds
    fitted after training), atomically: a process killed meanwhile leaves the old file whole. The keys are
    filtered here too, for a best.ckpt written by Lightning's own ModelCheckpoint (a user's callbacks config):
    without the optimizer's state it is about a third of the size (the quickstart's Inception-v3: 88 MB, not
    262 MB)."""
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    finished = {key: checkpoint[key] for key in EVALUATION_KEYS if key in checkpoint}
    finished["hyper_parameters"].update(values)
    AtomicCheckpointIO().save_checkpoint(finished, ckpt_path)


def check_resumable(checkpoint: dict[str, Any], ckpt_path: str) -> None:
    """A checkpoint for evaluation (best.ckpt) has no optimizer state: say to resume from last.ckpt instead."""
    if "optimizer_states" not in checkpoint:
        raise ConfigError(
            f"ckpt_path={ckpt_path} holds the weights for evaluation and export only (best.ckpt keeps no optimizer "
            "state); resume from the run's checkpoints/last.ckpt, or ckpt_path=last."
        )


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
