"""Export a checkpoint (`export.py`): to ONNX (optionally int8 too) or TorchScript, with a JSON of its class names
and preprocessing; or as a timm / Hugging Face folder with a model card (`format=timm`, models/timm_folder.py).

The exported graph takes a float32 RGB batch (N, 3, H, W) in [0, 1], already resized and centre-cropped
to the checkpoint's input size, and returns class probabilities, calibrated by the checkpoint's temperature.
Normalisation (timm's mean and std) is inside the graph; resizing is not, because image decoders and resizers
differ per deployment and a bicubic resize inside ONNX would not match PIL's. `model.json` says exactly how to
resize and crop.
Each BatchNorm is folded into its convolution first (models/batchnorm_folding.py).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from inception_tl import __version__
from inception_tl.config.schema import ExportFormat, Quantize
from inception_tl.console import console, loggers_at
from inception_tl.deploy.hub import push_folder
from inception_tl.deploy.model_card import RunRecord, write_model_card
from inception_tl.deploy.quantize import quantize_int8
from inception_tl.deploy.unit_images import unit_images
from inception_tl.errors import ConfigError, require_extra
from inception_tl.evaluation.checkpoint_data import checkpoint_datamodule
from inception_tl.models import ImageClassifier
from inception_tl.models.batchnorm_folding import fold_batchnorm
from inception_tl.models.loading import load_classifier
from inception_tl.models.timm_folder import head_in_timm, write_timm_folder

FORMATS = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt"}


class ExportableClassifier(nn.Module):
    """Backbone and head of an `ImageClassifier` as a plain module: [0, 1] images in, probabilities out (class
    probabilities, or a sigmoid per label for a multi-label model: its thresholds are in `model.json`).

    The LightningModule itself cannot be traced (its properties need a Trainer); in eval mode its
    forward is exactly `forward_features`, the pooled features and the head, as here.
    """

    def __init__(self, classifier: ImageClassifier) -> None:
        super().__init__()
        self.backbone, self.head = classifier.backbone, classifier.head
        self.objective = classifier.objective  # what was fitted after training, applied as the classifier does
        preprocessing = classifier.hparams.preprocessing
        self.register_buffer("mean", torch.tensor(preprocessing["mean"]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(preprocessing["std"]).view(1, 3, 1, 1))
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.backbone.forward_features((images - self.mean) / self.std)
        logits = self.head(self.backbone.forward_head(features, pre_logits=True))
        return self.objective.probabilities(self.objective.calibrated(logits))


# How an image becomes the model's input under each of timm's crop modes (`preprocessing.crop_mode`).
INPUT_GEOMETRY = {
    "center": "resize the shorter side to H / crop_pct with `interpolation`, then centre-crop to H x W (input_size)",
    "squash": "resize both sides to H / crop_pct with `interpolation` (stretched), then centre-crop to H x W",
    "border": "resize the longer side to H / crop_pct with `interpolation`, keeping the ratio; pad the shorter side "
    "to H with the mean colour (round(255 x mean)), then centre-crop to H x W (timm's ResizeKeepRatio and "
    "CenterCropOrPad)",
}


def model_card(classifier: ImageClassifier, format_: str) -> dict[str, Any]:
    preprocessing = {"crop_mode": "center", **classifier.hparams.preprocessing}  # older checkpoints: center
    card = {
        "format": format_,
        "backbone": classifier.hparams.backbone["name"],
        "class_names": classifier.class_names,
        "input": "float32 RGB, shape (N, 3, H, W), values in [0, 1]; " + INPUT_GEOMETRY[preprocessing["crop_mode"]],
        "normalisation": "inside the model: (x - mean) / std",
        "preprocessing": {
            key: list(value) if isinstance(value, tuple) else value for key, value in preprocessing.items()
        },
    }
    return card | classifier.objective.card()


@contextlib.contextmanager
def exporters_quiet(verbose: bool) -> Iterator[None]:
    """Without `verbose`, the exporters' progress: onnxscript's and onnx_ir's INFO log lines (Hydra's logging sends
    INFO to the console) and torch's deprecation warnings for torch.jit (TorchScript still loads in C++ without
    Python; the warning is about torch's plans, not this model)."""
    if verbose:
        yield
        return
    with warnings.catch_warnings(), loggers_at(logging.WARNING, "onnxscript", "onnx_ir"):
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)
        yield


def export_classifier(classifier: ImageClassifier, format_: str, directory: Path, verbose: bool = False) -> Path:
    """Write the model in `format_` and `model.json` into `directory`; returns the model file. `verbose`: the
    exporters' own progress lines."""
    if format_ not in FORMATS:
        raise ConfigError(f"format={format_!r}: choose one of {list(FORMATS)}.")
    directory.mkdir(parents=True, exist_ok=True)
    # A copy, folded: the caller's classifier keeps its BatchNorm layers.
    model = copy.deepcopy(ExportableClassifier(classifier.cpu().eval()))
    fold_batchnorm(model)
    size = classifier.hparams.preprocessing["input_size"]
    example = torch.rand(2, *size)
    path = directory / FORMATS[format_]
    with exporters_quiet(verbose):
        if format_ == "onnx":
            torch.onnx.export(
                model,
                (example,),
                str(path),
                input_names=["images"],
                output_names=["probabilities"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                dynamo=True,
                external_data=False,
                verbose=verbose,
            )
        else:
            # check_trace would trace a second time to compare the graphs (two thirds of the time, 10 s for
            # Inception-ResNet-v2 on a CPU core); the network has no data-dependent branches, and the traced
            # model's numbers are what tests/test_export.py checks, on another batch size than the example's.
            with torch.no_grad():
                torch.jit.trace(model, example, check_trace=False).save(str(path))
    (directory / "model.json").write_text(json.dumps(model_card(classifier, format_), indent=2))
    return path


def export(cfg: DictConfig) -> Path:
    """Write `cfg.ckpt_path`'s model in `cfg.format` (and its int8 twin, or push the timm folder); returns the
    model file or folder."""
    format_, quantize = checked_choices(cfg)
    classifier = load_classifier(cfg.ckpt_path)
    directory = Path(cfg.output_dir) if cfg.output_dir else Path(cfg.paths.output_dir)
    if format_ == "timm":
        return export_timm(cfg, classifier, directory)
    path = export_classifier(classifier, format_, directory, verbose=cfg.verbose)
    if quantize == "int8":
        calibration = calibration_batches(classifier, cfg.calibration_images)
        card_path = directory / "model.json"
        card = json.loads(card_path.read_text())
        card["quantization"] = quantize_int8(path, directory / "model.int8.onnx", calibration)
        card_path.write_text(json.dumps(card, indent=2))
        console.print(f"Wrote {path}, {directory / 'model.int8.onnx'} and {card_path}")
        return directory / "model.int8.onnx"
    console.print(f"Wrote {path} and {directory / 'model.json'}")
    return path


def checked_choices(cfg: DictConfig) -> tuple[str, str]:
    """(format, quantize); options that belong to another format stop the run rather than being ignored."""
    format_ = ExportFormat(cfg.format).value  # choices checked when the command was composed
    quantize = Quantize(cfg.quantize).value
    if quantize != "none" and format_ != "onnx":
        raise ConfigError(f"quantize={quantize} applies to format=onnx (ONNX Runtime's quantizer), not {format_}.")
    if cfg.push and format_ != "timm":
        raise ConfigError(f"push=true uploads a timm folder: add format=timm (not format={format_}).")
    if cfg.push and not cfg.repo_id:
        raise ConfigError("push=true needs the hub repository to create or update: add repo_id=user/name.")
    if format_ == "onnx":
        for module in ("onnx", "onnxscript"):
            require_extra(module, "export", "export.py format=onnx")
    if quantize == "int8":
        require_extra("onnxruntime", "export", "export.py quantize=int8")
    if cfg.push:
        require_extra("huggingface_hub", "hub", "export.py push=true")
    if cfg.calibration_images < 1:
        raise ConfigError(f"calibration_images={cfg.calibration_images}: give a positive number (300 is typical).")
    return format_, quantize


def calibration_batches(classifier: ImageClassifier, count: int) -> Iterator[np.ndarray]:
    """`count` images of the checkpoint's training split, drawn at random with a fixed seed, as [0, 1] batches."""
    datamodule = checkpoint_datamodule(classifier, None)
    paths = [path for path, _ in datamodule.samples["train"]]
    chosen = np.random.default_rng(0).permutation(len(paths))[:count]
    return unit_images([paths[index] for index in sorted(chosen)], classifier.hparams.preprocessing, batch_size=32)


def export_timm(cfg: DictConfig, classifier: ImageClassifier, directory: Path) -> Path:
    """The timm / Hugging Face folder with its model card; uploaded with `push`."""
    in_timm = head_in_timm(classifier)
    if not in_timm:
        console.print(
            "[yellow]This model's MLP head is not a timm architecture:[/yellow] timm will load the fine-tuned "
            "backbone alone (a feature extractor); inception_tl.load_model and predict.py / serve.py load all of it."
        )
    directory.mkdir(parents=True, exist_ok=True)
    write_timm_folder(classifier, directory, __version__)
    name = cfg.repo_id or directory.name
    write_model_card(classifier, directory, RunRecord.of_checkpoint(cfg.ckpt_path), name, in_timm)
    console.print(f"Wrote {directory} (config.json, model.safetensors, README.md)")
    if cfg.push:
        url = push_folder(directory, cfg.repo_id, private=cfg.private)
        console.print(f"Uploaded to {url} ({'private' if cfg.private else 'public'})")
    return directory
