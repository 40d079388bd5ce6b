"""Classify image files with a checkpoint alone: its preprocessing, its class names (`predict.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from omegaconf import DictConfig
from torchvision.datasets.folder import IMG_EXTENSIONS

from inception_tl.console import err_console as console
from inception_tl.errors import ConfigError, DataError
from inception_tl.evaluation.cam_report import write_file_maps
from inception_tl.evaluation.file_predictions import FilePredictions, predict_files
from inception_tl.models.loading import load_classifier
from inception_tl.training.trainer import resolve_precision

# How many files' classes predict.py prints; the CSV has every file.
SHOWN = 20


def find_images(path: Path) -> tuple[list[Path], list[Path]]:
    """(`path` itself, or every file with an image extension under the folder; the other files there, which are
    skipped and said), each sorted. Hidden files (`.DS_Store`) are neither, as in training's scan."""
    if path.is_file():
        return [path], []
    if not path.is_dir():
        raise ConfigError(f"input={str(path)!r} is neither an image file nor a folder.")
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    images = [p for p in files if p.suffix.lower() in IMG_EXTENSIONS]
    if not images:
        raise DataError(f"No image files ({', '.join(IMG_EXTENSIONS)}) under {path}.")
    return images, [p for p in files if p.suffix.lower() not in IMG_EXTENSIONS]


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def predict(cfg: DictConfig) -> FilePredictions:
    """Classify `cfg.input` (a file or a folder) with `cfg.ckpt_path`; write the CSV to `cfg.output`."""
    model = load_classifier(cfg.ckpt_path).set_channels_last(cfg.channels_last).to(resolve_device(cfg.device))
    paths, not_images = find_images(Path(cfg.input).expanduser())
    output = Path(cfg.output) if cfg.output else Path(cfg.paths.output_dir) / "predictions.csv"
    result = predict_files(
        model,
        paths,
        dict(model.hparams.preprocessing),
        model.class_names,
        batch_size=cfg.batch_size,
        num_workers=cfg.num_workers,
        tta=cfg.tta,
        precision=resolve_precision(cfg.precision),
        thresholds=model.objective.thresholds,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(output)
    print_predictions(result, not_images, output)
    if cfg.cam:
        folder = output.parent / f"{output.stem}_cam"
        written = write_file_maps(model, result, Path(cfg.input).expanduser(), folder, cfg.cam_method, cfg.cam_layer)
        console.print(f"Wrote {written} class-activation maps ({cfg.cam_method}) in {folder}")
    return result


def print_predictions(result: FilePredictions, not_images: Sequence[Path], output: Path) -> None:
    """The decisions of the first SHOWN files, then every file skipped and why, then the counts."""
    classified = sorted(result.probabilities)
    for index in classified[:SHOWN]:
        console.print(f"{result.paths[index]}: [bold]{result.decision(index)}[/bold]")
    if len(classified) > SHOWN:
        console.print(f"... and {len(classified) - SHOWN} more in {output}")
    for index, error in sorted(result.failures.items()):
        console.print(f"[yellow]Skipped[/yellow] {result.paths[index]}: {error}")
    for path in not_images:
        console.print(f"[yellow]Skipped[/yellow] {path}: not an image (by its extension: {', '.join(IMG_EXTENSIONS)})")
    console.print(
        f"Classified {len(classified)} of {len(result.paths)} image files; unreadable: {len(result.failures)}; "
        f"not images: {len(not_images)}. Wrote {output}"
    )
