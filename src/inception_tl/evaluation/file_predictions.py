"""Predictions for image files, with a model and its preprocessing alone: each file takes the training run's data
path (decoded in loader workers, cut and normalised on the model's device), so it gets the probabilities eval.py
gives the same image. Used by predict.py and the benchmarks."""

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
from torch.utils.data import DataLoader

from inception_tl.data.device import BatchTransform
from inception_tl.data.store import StorageSpec
from inception_tl.data.worker import FilesToPredict, collate_files
from inception_tl.training.trainer import autocast


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
def batch_probabilities(
    model: torch.nn.Module,
    batch: Mapping[str, Any],
    transform: BatchTransform,
    precision: str,
    tta: bool = False,
    multi_label: bool = False,
) -> torch.Tensor:
    """The probabilities of a collated batch of stored images (`collate_images`) on the model's device: cut and
    normalised there, the model under `precision`; softmax (multi-label: a sigmoid per label), with `tta` the mean
    over each image and its mirror. predict.py and serve.py both take this step."""
    device = next(model.parameters()).device
    normalise = torch.sigmoid if multi_label else functools.partial(torch.softmax, dim=1)
    images = transform(move_data_to_device(batch, device))
    with autocast(precision, device):
        probabilities = normalise(model(images).float())
        if tta:
            probabilities = (probabilities + normalise(model(images.flip(-1)).float())) / 2
    return probabilities


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
        FilesToPredict(paths, spec, transform.size),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=collate_files,
        pin_memory=device.type == "cuda",
    )
    indices, scores, failures = [], [], {}
    for batch in loader:
        failures.update(batch.pop("failures"))
        if not batch:  # every file of this batch was unreadable
            continue
        indices.append(batch["indices"])
        # Stays on the device: read back once, at the end.
        scores.append(batch_probabilities(model, batch, transform, precision, tta, multi_label=thresholds is not None))
    found = torch.cat(scores).cpu().numpy() if scores else np.empty((0, len(class_names)))
    order = torch.cat(indices).tolist() if indices else []
    found_by_file = dict(zip(order, found, strict=True))
    chosen = list(thresholds) if thresholds is not None else None
    return FilePredictions(list(paths), list(class_names), found_by_file, failures, chosen)
