"""Classify image files with a checkpoint alone: its preprocessing, its class names (`predict.py`)."""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from omegaconf import DictConfig
from rich.console import Console
from torch.utils.data import DataLoader
from torchvision.datasets.folder import IMG_EXTENSIONS

from inception_tl.data.device import BatchTransform
from inception_tl.data.store import StorageSpec
from inception_tl.data.worker import ImageFiles, collate_files
from inception_tl.errors import ConfigError, DataError
from inception_tl.models.loading import load_classifier
from inception_tl.training.trainer import autocast, resolve_precision

console = Console(stderr=True, soft_wrap=True)  # long paths stay on one line, greppable in logs


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


@dataclass(frozen=True)
class FilePredictions:
    paths: list[Path]
    class_names: list[str]
    probabilities: dict[int, np.ndarray]  # file index -> class probabilities, readable files only
    failures: dict[int, str]  # file index -> why it could not be read
    thresholds: list[float] | None = None  # multi-label: each label's, from the checkpoint

    def label_set(self, index: int) -> list[str]:
        """Multi-label: the labels of file `index` whose probability reaches their threshold."""
        assert self.thresholds is not None
        chosen = self.probabilities[index] >= np.asarray(self.thresholds)
        return [name for name, on in zip(self.class_names, chosen, strict=True) if on]

    def decision(self, index: int) -> str:
        """What the model says of file `index`: its class and probability, or its label set."""
        if self.thresholds is not None:
            return ";".join(self.label_set(index)) or "(no label)"
        probabilities = self.probabilities[index]
        best = int(probabilities.argmax())
        return f"{self.class_names[best]} ({probabilities[best]:.3f})"

    def to_csv(self, path: Path) -> None:
        """One row per file, in input order; an unreadable file has its error and no prediction. Multi-label:
        the predicted label set (separated by ";") and every label's probability."""
        multi_label = self.thresholds is not None
        header = ["path", "predicted", *([] if multi_label else ["probability"])]
        header += [*(f"p_{n}" for n in self.class_names), "error"]
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for index, file in enumerate(self.paths):
                if index in self.failures:
                    writer.writerow([file, *([""] * (len(header) - 2)), self.failures[index]])
                    continue
                probabilities = self.probabilities[index]
                if multi_label:
                    decided = [";".join(self.label_set(index))]
                else:
                    best = int(probabilities.argmax())
                    decided = [self.class_names[best], f"{probabilities[best]:.6f}"]
                writer.writerow([file, *decided, *(f"{p:.6f}" for p in probabilities), ""])


@torch.inference_mode()
def predict_files(
    model: torch.nn.Module,
    paths: Sequence[Path],
    preprocessing: Mapping[str, Any],
    class_names: Sequence[str],
    *,
    batch_size: int,
    num_workers: int,
    tta: bool,
    precision: str,
    thresholds: Sequence[float] | None = None,
) -> FilePredictions:
    """Softmax probabilities per file (multi-label, `thresholds` given: a sigmoid per label); with `tta`, the
    mean over the image and its horizontal mirror.

    The files take the training run's data path: decoded at the storage size in the loader workers, moved as
    uint8, cut to timm's evaluation crop and normalised on the model's device (`data.device`), so a file gets
    the probabilities `eval.py` gives the same image. The model runs under `precision` (`16-mixed`, ...).
    """
    model.eval()
    device = next(model.parameters()).device
    spec = StorageSpec.for_preprocessing(preprocessing)
    transform = BatchTransform.for_preprocessing(preprocessing)
    loader = DataLoader(
        ImageFiles(paths, spec, transform.size),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=collate_files,
        pin_memory=device.type == "cuda",
    )
    indices, scores, failures = [], [], {}
    normalise = torch.sigmoid if thresholds is not None else functools.partial(torch.softmax, dim=1)
    for batch in loader:
        failures.update(batch.pop("failures"))
        if not batch:  # every file of this batch was unreadable
            continue
        indices.append(batch["indices"])
        images = transform(move_data_to_device(batch, device))
        with autocast(precision, device):
            probabilities = normalise(model(images).float())
            if tta:
                probabilities = (probabilities + normalise(model(images.flip(-1)).float())) / 2
        scores.append(probabilities)  # stays on the device: read back once, at the end
    found = torch.cat(scores).cpu().numpy() if scores else np.empty((0, len(class_names)))
    order = torch.cat(indices).tolist() if indices else []
    found_by_file = dict(zip(order, found, strict=True))
    chosen = list(thresholds) if thresholds is not None else None
    return FilePredictions(list(paths), list(class_names), found_by_file, failures, chosen)


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
