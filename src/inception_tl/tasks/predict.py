"""Classify image files with a checkpoint alone: its preprocessing, its class names (`predict.py`)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from rich.console import Console
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets.folder import IMG_EXTENSIONS

from inception_tl.data.images import load_rgb
from inception_tl.data.transforms import eval_transform
from inception_tl.errors import ConfigError, DataError
from inception_tl.models.loading import load_classifier

console = Console(stderr=True, soft_wrap=True)  # long paths stay on one line, greppable in logs


def find_images(path: Path) -> list[Path]:
    """`path` itself, or every file with an image extension under the folder, sorted."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"input={str(path)!r} is neither an image file nor a folder.")
    images = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)
    if not images:
        raise DataError(f"No image files ({', '.join(IMG_EXTENSIONS)}) under {path}.")
    return images


class ImageFiles(Dataset):
    """(index, image tensor or None, error message or None): an unreadable file is reported, not raised."""

    def __init__(self, paths: Sequence[Path], transform: Any) -> None:
        self.paths, self.transform = list(paths), transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str | None]:
        try:
            return index, self.transform(load_rgb(str(self.paths[index]))), None
        except DataError as error:
            return index, None, str(error)


def collate(batch: list[tuple[int, torch.Tensor | None, str | None]]) -> tuple[list[int], torch.Tensor | None, dict]:
    readable = [(index, image) for index, image, _ in batch if image is not None]
    failures = {index: error for index, image, error in batch if image is None}
    images = torch.stack([image for _, image in readable]) if readable else None
    return [index for index, _ in readable], images, failures


@dataclass(frozen=True)
class FilePredictions:
    paths: list[Path]
    class_names: list[str]
    probabilities: dict[int, np.ndarray]  # file index -> class probabilities, readable files only
    failures: dict[int, str]  # file index -> why it could not be read

    def to_csv(self, path: Path) -> None:
        """One row per file, in input order; an unreadable file has its error and no prediction."""
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "predicted", "probability", *(f"p_{n}" for n in self.class_names), "error"])
            for index, file in enumerate(self.paths):
                if index in self.failures:
                    writer.writerow([file, "", "", *([""] * len(self.class_names)), self.failures[index]])
                    continue
                probabilities = self.probabilities[index]
                best = int(probabilities.argmax())
                cells = [f"{p:.6f}" for p in probabilities]
                writer.writerow([file, self.class_names[best], f"{probabilities[best]:.6f}", *cells, ""])


@torch.inference_mode()
def predict_files(
    model: torch.nn.Module,
    paths: Sequence[Path],
    preprocessing: dict[str, Any],
    class_names: Sequence[str],
    batch_size: int = 32,
    num_workers: int = 0,
    tta: bool = False,
) -> FilePredictions:
    """Softmax probabilities per file; with `tta`, the mean over the image and its horizontal mirror."""
    model.eval()
    device = next(model.parameters()).device
    loader = DataLoader(
        ImageFiles(paths, eval_transform(preprocessing)),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=collate,
    )
    probabilities: dict[int, np.ndarray] = {}
    failures: dict[int, str] = {}
    for indices, images, batch_failures in loader:
        failures.update(batch_failures)
        if images is None:
            continue
        images = images.to(device)
        scores = model(images).float().softmax(dim=1)
        if tta:
            scores = (scores + model(images.flip(-1)).float().softmax(dim=1)) / 2
        probabilities.update(zip(indices, scores.cpu().numpy(), strict=True))
    return FilePredictions(list(paths), list(class_names), probabilities, failures)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def predict(cfg: DictConfig) -> FilePredictions:
    """Classify `cfg.input` (a file or a folder) with `cfg.ckpt_path`; write the CSV to `cfg.output`."""
    model = load_classifier(cfg.ckpt_path).set_channels_last(cfg.channels_last).to(resolve_device(cfg.device))
    paths = find_images(Path(cfg.input).expanduser())
    output = Path(cfg.output) if cfg.output else Path(cfg.paths.output_dir) / "predictions.csv"
    result = predict_files(
        model,
        paths,
        dict(model.hparams.preprocessing),
        model.class_names,
        batch_size=cfg.batch_size,
        num_workers=cfg.num_workers,
        tta=cfg.tta,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(output)
    for index, error in sorted(result.failures.items()):
        console.print(f"[yellow]Skipped[/yellow] {paths[index]}: {error}")
    readable = len(paths) - len(result.failures)
    console.print(f"Classified {readable} of {len(paths)} files; unreadable: {len(result.failures)}. Wrote {output}")
    return result
