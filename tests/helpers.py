"""Helpers the tests share: the entry scripts run in this process, a forked child for the kill tests, image
trees and configs they build, a calibrated classifier, a quiet Trainer for the freeze-schedule tests, a callback
that saves each DDP rank's weights, and a reader for offline W&B runs. (The pytest fixtures are in conftest.py.)"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import multiprocessing
import runpy
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig, open_dict
from PIL import Image

from inception_tl.config.schema import DataSchema, register_schemas
from inception_tl.data import ImageDataModule
from inception_tl.data.preprocessing import resolve_preprocessing
from inception_tl.data.sources import ImageFolder
from inception_tl.models import ImageClassifier
from inception_tl.training.callbacks import FreezeScheduleCallback
from inception_tl.training.callbacks.step_seed import StepSeed

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "conf"


def run_entry_point(script: str, *arguments: str) -> subprocess.CompletedProcess:
    """`python SCRIPT ARGUMENTS` run in this process: the script's own `@hydra.main` reads these arguments from
    sys.argv, composes, runs and reports errors exactly as on the command line, without importing torch,
    Lightning and timm again (about 10 s a command on 2 cores). Returns the exit code and what it printed."""
    stdout, stderr, argv = io.StringIO(), io.StringIO(), sys.argv
    sys.argv = [str(REPO / script), *arguments]
    code: int | str | None = 0
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            runpy.run_path(str(REPO / script), run_name="__main__")
    except SystemExit as exited:
        code = exited.code
    finally:
        sys.argv = argv
    returncode = 1 if isinstance(code, str) else code or 0  # sys.exit("message") exits 1
    return subprocess.CompletedProcess([script, *arguments], returncode, stdout.getvalue(), stderr.getvalue())


def run_script(script: str, *overrides: str) -> subprocess.CompletedProcess:
    """run_entry_point, which must succeed (its output is in the failure's message)."""
    result = run_entry_point(script, *overrides)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def run_in_forked_child(target: Callable[..., Any], *arguments: Any, timeout: float = 120) -> int | None:
    """Run `target(*arguments)` in a forked copy of this process; returns its exit code (minus the signal that
    ended it). Forked rather than a new interpreter, which would spend about 8 s on 2 cores importing torch
    and the project again: the tests that kill a process half way through a write only need it killed."""
    child = multiprocessing.get_context("fork").Process(target=target, args=arguments)
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        raise AssertionError(f"{target.__name__} was still running after {timeout} s")
    return child.exitcode


# Every lever for small datasets on at once (README "Levers for a few hundred photos"), as the config sets them:
# the DDP and resume tests check that ranks stay identical and a resumed run exact with all of them.
LEVER_AUGMENT = {
    "brightness": 0.3,
    "saturation": 0.3,
    "hue": 0.05,
    "greyscale": 0.1,
    "policy": "trivial",
    "erase": 0.25,
}
LEVER_MIXUP = {"mixup_alpha": 0.4, "cutmix_alpha": 1.0}
ALL_LEVERS = [
    "callbacks=ema",
    "loss.class_weights=balanced",
    *(f"mixup.{key}={value}" for key, value in LEVER_MIXUP.items()),
    *(f"data.augment.{key}={value}" for key, value in LEVER_AUGMENT.items()),
]


def write_image_tree(root: Path, counts: Mapping[str, Mapping[str, int]], size: int = 80, seed: int = 0) -> Path:
    """Write `counts[split][class]` random RGB PNGs under root/split/class/."""
    rng = np.random.default_rng(seed)
    for split, per_class in counts.items():
        for name, n in per_class.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(n):
                pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{name}-{index:03d}.png")
    return root


def drop_repeated_blocks(model: torch.nn.Module, image_size: int) -> torch.nn.Module:
    """`model` with, in each nn.Sequential, only the first of each run of blocks of one class that keep their
    input's shape (Inception-v4's four InceptionA, a ResNet stage's later bottlenecks, a ViT's blocks).

    The same layers and operators, a fraction of the graph: what an export test needs, as the ONNX exporter's
    time grows with every operator of every block (45 s for the whole Inception-ResNet-v2 on 2 cores).
    """
    shapes: dict[torch.nn.Module, bool] = {}

    def record(module: torch.nn.Module, args: tuple, output: Any) -> None:
        keeps = bool(args) and isinstance(args[0], torch.Tensor) and isinstance(output, torch.Tensor)
        shapes[module] = keeps and args[0].shape == output.shape

    sequentials = [module for module in model.modules() if isinstance(module, torch.nn.Sequential)]
    hooks = [child.register_forward_hook(record) for seq in sequentials for child in seq]
    was_training = model.training
    with torch.no_grad():
        model.eval()(torch.rand(1, 3, image_size, image_size))
    for hook in hooks:
        hook.remove()
    for seq in sequentials:
        kept: list[torch.nn.Module] = []
        for child in seq:
            if not (kept and type(child) is type(kept[-1]) and shapes.get(child)):
                kept.append(child)
        seq._modules = dict((str(index), child) for index, child in enumerate(kept))
    return model.train(was_training)


def calibrated_classifier(
    backbone: str, class_names: list[str], image_size: int = 75, seed: int = 0, repeated_blocks: bool = True
):
    """An untrained ImageClassifier in eval mode whose BatchNorm statistics come from a few random batches.

    With the initial statistics (mean 0, variance 1) the deep stack saturates the softmax to one-hot
    outputs, which would make any comparison of probabilities trivially equal. `repeated_blocks=False`: see
    drop_repeated_blocks.
    """
    torch.manual_seed(seed)
    preprocessing = resolve_preprocessing(backbone, image_size)
    model = ImageClassifier({"name": backbone, "pretrained": False}, class_names, preprocessing)
    if not repeated_blocks:
        drop_repeated_blocks(model, image_size)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # a plain average over the batches
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(8, 3, image_size, image_size) * 2 - 1)
    return model.eval()


def data_options(**overrides: Any) -> dict[str, Any]:
    """ImageDataModule's keyword arguments as Hydra passes them: DataSchema's defaults (the one statement of
    them), `source` and `root` aside, with `overrides`."""
    options: dict[str, Any] = {}
    for item in dataclasses.fields(DataSchema):
        if item.name in ("_target_", "source", "root"):
            continue
        value = item.default_factory() if item.default_factory is not dataclasses.MISSING else item.default
        options[item.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
    return {**options, "seed": 0, "backbone": "inception_v3", **overrides}


def make_datamodule(root: Path, **kwargs) -> ImageDataModule:
    """An ImageFolder datamodule at the smallest Inception size, set up (its data report ready), its
    decoded-image cache beside `root`."""
    options = {"image_size": 75, "batch_size": 4, "num_workers": 0}
    options["cache_dir"] = str(root.parent / f"{root.name}-decoded")
    datamodule = ImageDataModule(source=ImageFolder(), root=str(root), **data_options(**{**options, **kwargs}))
    datamodule.setup_data()
    return datamodule


def compose_config(overrides: list[str], output_dir: Path | None = None, config_name: str = "train") -> DictConfig:
    """conf/<config_name>.yaml composed as `python <config_name>.py OVERRIDES` would, with the run directory set."""
    register_schemas()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    if output_dir is not None:
        cfg.hydra.runtime.output_dir = str(output_dir)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    return cfg


def classifier(
    finetune: Mapping[str, Any] | None,
    backbone: str = "inception_v3",
    head: Mapping[str, Any] | None = None,
    scheduler: Mapping[str, Any] | None = None,
    lr: float = 1e-2,
    **options: Any,
) -> ImageClassifier:
    """A two-class ImageClassifier with random weights (seeded) for 75 px images; `options`: ImageClassifier's other
    arguments."""
    torch.manual_seed(0)
    return ImageClassifier(
        backbone={"name": backbone, "pretrained": False, "head": dict(head or {"kind": "linear"})},
        class_names=["a", "b"],
        preprocessing=resolve_preprocessing(backbone, 75),
        optimizer={"opt": "adamw", "lr": lr, "weight_decay": 0.01},
        scheduler=scheduler,
        finetune=finetune,
        **options,
    )


# The architectures of conf/backbone/ beyond Inception, at the small size each is tested at (a ViT at 32 px: four
# patches of 16).
BACKBONE_SIZES = {
    "resnet50": 64,
    "efficientnet_b3": 64,
    "convnext_tiny": 64,
    "vit_base_patch16_224": 32,
    "xception41": 64,
    "mobilenetv3_large_100": 64,
}


def model_for(
    name: str, finetune: Mapping[str, Any] | None = None, model_kwargs: Mapping[str, Any] | None = None
) -> ImageClassifier:
    """A two-class classifier of `name` with random weights (seeded), for its BACKBONE_SIZES images."""
    torch.manual_seed(0)
    return ImageClassifier(
        backbone={"name": name, "pretrained": False, "model_kwargs": dict(model_kwargs or {})},
        class_names=["a", "b"],
        preprocessing=resolve_preprocessing(name, BACKBONE_SIZES[name]),
        optimizer={"opt": "adamw", "lr": 1e-2, "weight_decay": 0.01},
        finetune=finetune,
    )


def fit(
    model: ImageClassifier,
    datamodule: L.LightningDataModule,
    epochs: int,
    callbacks: Sequence[Callback] = (),
    ckpt_path: str | None = None,
    schedule_callback: bool = True,
    **trainer_options: Any,
) -> L.Trainer:
    """Fit as train.py does (freeze-schedule and step-seed callbacks), quietly, on the CPU."""
    own = [FreezeScheduleCallback()] if schedule_callback else []
    options = {"logger": False, "enable_checkpointing": False, **trainer_options}
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[*own, StepSeed(0), *callbacks],
        **options,
    )
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    return trainer


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer (BatchNorm running statistics included), copied."""
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


def changed(before: Mapping[str, torch.Tensor], after: Mapping[str, torch.Tensor]) -> set[str]:
    return {name for name, tensor in before.items() if not torch.equal(tensor, after[name])}


class EpochSnapshots(Callback):
    """The backbone's state at the end of every training epoch, and the frozen-stage count during it."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []
        self.frozen: list[int] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: ImageClassifier) -> None:
        self.states.append(snapshot(pl_module.backbone))
        self.frozen.append(pl_module.frozen_stages)


class SaveRankWeights(Callback):
    """Writes `rank{R}-initial.pt` and, after each epoch, `rank{R}-epoch{E}.pt`: the model's state dict
    and the sample indices this rank trained on in that epoch (from its batches, as the model got them)."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.indices: list[int] = []

    def _save(self, trainer: L.Trainer, pl_module: L.LightningModule, tag: str, indices: list[int]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        state = {name: tensor.detach().clone() for name, tensor in pl_module.state_dict().items()}
        torch.save({"state": state, "indices": indices}, self.directory / f"rank{trainer.global_rank}-{tag}.pt")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer, pl_module, "initial", [])

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, index: int) -> None:
        self.indices += batch[2].tolist()  # (inputs, labels, indices)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer, pl_module, f"epoch{trainer.current_epoch}", self.indices)
        self.indices = []


# Offline W&B runs (`run-*.wandb`) read back: their config, history rows and run record. The file is a
# LevelDB-style log: a 7-byte header (":W&B", magic, version), then 32 KiB blocks of
# records, each with a 7-byte header (CRC32, length, type: full, first, middle, last) and a protobuf
# `wandb_internal_pb2.Record` as payload.

BLOCK = 32 * 1024
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[Any]:
    from wandb.proto import wandb_internal_pb2  # only the W&B test needs it

    data = path.read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B run file")
    offset, pending = HEADER, b""
    while offset + HEADER <= len(data):
        if BLOCK - offset % BLOCK < HEADER:  # the rest of a block too short for a header is padding
            offset += BLOCK - offset % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[offset : offset + HEADER])
        payload = data[offset + HEADER : offset + HEADER + length]
        offset += HEADER + length
        if kind in (FIRST, MIDDLE):
            pending += payload
            continue
        if kind not in (FULL, LAST):
            continue
        record = wandb_internal_pb2.Record()
        record.ParseFromString(pending + payload)
        pending = b""
        yield record


def read_run(path: Path) -> dict[str, Any]:
    """{"config": {...}, "history": [{key: value}, ...], "name", "group", "tags"} of an offline run."""
    run: dict[str, Any] = {"config": {}, "history": []}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "config":
            for item in record.config.update:
                key = item.key or "/".join(item.nested_key)
                run["config"][key] = json.loads(item.value_json)
        elif kind == "history":
            row = {}
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                row[key] = json.loads(item.value_json)
            run["history"].append(row)
        elif kind == "run":
            run["name"], run["group"], run["tags"] = (
                record.run.display_name,
                record.run.run_group,
                list(record.run.tags),
            )
    return run
